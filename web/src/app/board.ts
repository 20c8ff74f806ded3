// The board explorer: the latest signed checkpoint, the latest entries, and
// an inclusion proof for any of them, all verified in the browser.
import * as U from '../crypto/index.js';
import { api, boardApi } from './api.js';
import { clear, focusHeading, h } from './dom.js';
import { plural, t } from './i18n.js';
import { errorText } from './receipts.js';
import { checkAgainstSeen } from './seen.js';

const PAGE = 20;

export async function boardPage(root: HTMLElement, before?: number): Promise<void> {
  clear(root, h('h1', {}, t('board.heading')), h('p', {}, t('common.loading')));
  try {
    const config = await api.config();
    const key = U.parseVerifierKey(config.board_key);
    const note = await boardApi.checkpoint();
    const cp = U.verifyCheckpointNote(note, key);
    const consistency = await checkAgainstSeen(cp);
    const size = Number(cp.size);
    const end = Math.min(size, before ?? size);
    const start = Math.max(0, end - PAGE);
    const page = end > start ? await boardApi.entries(start, end) : { entries: [] };
    const result = h('div', { 'aria-live': 'polite', 'data-testid': 'board-result' });
    const check = async (index: number, entryB64: string) => {
      try {
        const bytes = U.base64Decode(entryB64);
        const p = await boardApi.inclusion(size, index);
        const ok = U.verifyInclusion(U.leafHash(bytes), index, cp.size, p.proof.map((x) => U.fromHex(x, 32)), cp.root);
        if (!ok) U.fail('bad_proof', 'the inclusion proof does not verify');
        clear(result, h('p', { class: 'ok' }, plural('board.included', p.proof.length, { index })));
      } catch (err) {
        clear(result, h('p', { class: 'error', role: 'alert' }, t('check.failed', { message: errorText(err) })));
      }
    };
    const rows = [...page.entries].reverse().map((e) =>
      h('tr', {},
        h('th', { scope: 'row' }, String(e.index)),
        h('td', {}, t(`kind.${e.kind}`)),
        h('td', {}, String(U.base64Decode(e.entry).length)),
        h('td', {}, h('code', { class: 'short' }, e.leaf_hash.slice(0, 16) + '…')),
        h('td', {}, h('button', { type: 'button', class: 'small', 'aria-label': t('board.verify', { index: e.index }), onclick: () => void check(e.index, e.entry) }, '✓')),
      ),
    );
    clear(
      root,
      h('h1', {}, t('board.heading')),
      h('p', {}, t('board.text')),
      h('p', { class: 'ok', 'data-testid': 'board-checkpoint' }, t('board.checkpoint', { origin: cp.origin, size, root: U.base64Encode(cp.root) })),
      h('p', { class: 'note' }, t('board.signed', { key: config.board_key })),
      h('p', { class: consistency.ok ? 'ok' : 'error', 'data-testid': 'board-consistency', role: consistency.ok ? undefined : 'alert' }, consistency.text),
      result,
      h('div', { class: 'table-wrap' }, h('table', {},
        h('caption', {}, t('board.entries')),
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('board.index')), h('th', { scope: 'col' }, t('board.kind')), h('th', { scope: 'col' }, t('board.bytes')), h('th', { scope: 'col' }, t('board.leaf')), h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, t('check.do'))))),
        h('tbody', {}, rows),
      )),
      start > 0 && h('a', { class: 'button', href: `#/board/${start}` }, t('board.older')),
    );
  } catch (e) {
    clear(root, h('h1', {}, t('board.heading')), h('p', { class: 'error', role: 'alert' }, errorText(e)));
  }
  focusHeading(root);
}
