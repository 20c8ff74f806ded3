// The trustee's page (#/trustee): the key ceremony and the partial
// decryption in the browser (spec/trustee.md §T1, §T5, §T6). The secret
// share is made here, sealed under the trustee's passphrase in this
// browser (keystore.ts) and never sent; before decrypting, the page checks
// the tally against the board (§T1.1, tallycheck.ts) and shows what it is
// about to decrypt.
import * as U from '../crypto/index.js';
import { ApiError } from './api.js';
import { clear, focusHeading, h } from './dom.js';
import { has, num, plural, t } from './i18n.js';
import * as KS from './keystore.js';
import { Names, loadNames } from './names.js';
import { CheckedTally, checkTally } from './tallycheck.js';
import * as OPS from './trusteeops.js';

/** The unlocked store of this page view (a reload locks it again). */
let session: KS.Unlocked | null = null;
let checked: CheckedTally | null = null;
/** Counts renders, so a test can wait for the page to show a fresh state. */
let renders = 0;
/** A step is running: no automatic refresh meanwhile. */
let working = false;

function errorText(e: unknown): string {
  if (e instanceof ApiError) return e.display();
  // The sentence in the trustee's language; the code (a spec error code or an §X4 check name) for a support call.
  if (e instanceof U.UrnaError) return t('trustee.refused', { message: has(`trustee.err.${e.code}`) ? t(`trustee.err.${e.code}`) : t('trustee.err.check'), code: e.code });
  return String((e as Error)?.message ?? e);
}

/** A progress bar with its words (role=status, so screen readers follow long steps). */
function progressBox(): { el: HTMLElement; set: (what: string, done: number, total: number) => void } {
  const bar = h('progress', { max: 1, value: 0, 'aria-labelledby': 'tr-progress-text' }) as HTMLProgressElement;
  const text = h('p', { id: 'tr-progress-text', role: 'status', 'aria-live': 'polite' });
  const el = h('div', { class: 'progress', 'data-testid': 'trustee-progress', hidden: true }, text, bar);
  return {
    el,
    set: (what, done, total) => {
      el.hidden = false;
      bar.max = Math.max(1, total);
      bar.value = done;
      text.textContent = t(`trustee.progress.${what}`, { done, total });
    },
  };
}

function ceremonyTable(c: OPS.CeremonyJson, b: OPS.Board): HTMLElement {
  const mark = (ok: boolean) => (ok ? t('trustee.table.yes') : t('trustee.table.no'));
  const rows = Array.from({ length: c.n }, (_, k) => k + 1).map((i) =>
    h('tr', {},
      h('th', { scope: 'row' }, t('trustee.table.trustee', { i })),
      h('td', {}, mark(b.round1.some((m) => m.trustee === i))),
      h('td', {}, mark(b.round2.some((m) => m.dealer === i))),
      h('td', {}, num(b.complaints.filter((x) => x.complainer === i).length)),
    ));
  return h('div', { class: 'table-wrap' }, h('table', { 'data-testid': 'ceremony-table' },
    h('caption', {}, t('trustee.table.caption', { n: c.n, t: c.t })),
    h('thead', {}, h('tr', {}, ...['who', 'round1', 'round2', 'complaints'].map((k) => h('th', { scope: 'col' }, t(`trustee.table.${k}`))))),
    h('tbody', {}, rows),
  ));
}

function field(id: string, label: string, input: HTMLElement, hint?: string): HTMLElement {
  return h('div', { class: 'field' }, h('label', { for: id }, label), hint ? h('p', { class: 'note', id: `${id}-hint` }, hint) : null, input);
}

/** The page; `msg` is a result line carried over a re-render. */
export async function trusteePage(root: HTMLElement, msg?: { ok: boolean; text: string }): Promise<void> {
  clear(root, h('h1', {}, t('trustee.heading')), h('p', {}, t('common.loading')));
  let c: OPS.CeremonyJson;
  try {
    c = await OPS.getCeremony();
  } catch (e) {
    clear(root, h('h1', {}, t('trustee.heading')), h('p', { class: 'error', role: 'alert' }, errorText(e)));
    return;
  }
  const board = OPS.readBoard(c);
  const M = U.fromHex(c.manifest_hash, 32);
  const result = h('div', { 'data-testid': 'trustee-result', role: 'status', 'aria-live': 'polite' },
    msg ? h('p', { class: msg.ok ? 'ok' : 'error', role: msg.ok ? undefined : 'alert' }, msg.text) : null);
  const progress = progressBox();
  const again = (m?: { ok: boolean; text: string }) => void trusteePage(root, m);
  const show = (ok: boolean, text: string) => clear(result, h('p', { class: ok ? 'ok' : 'error', role: ok ? undefined : 'alert' }, text));
  const busy = async (btn: HTMLButtonElement, work: () => Promise<string>) => {
    btn.disabled = true;
    working = true;
    try {
      const text = await work();
      working = false;
      again({ ok: true, text });
    } catch (e) {
      working = false;
      btn.disabled = false;
      show(false, errorText(e));
    }
  };
  let stored: KS.StoreFile | null = null;
  try {
    stored = KS.load(c.manifest_hash);
  } catch {
    stored = null;
  }
  if (session && session.header.manifest_hash !== c.manifest_hash) session = null;
  const ctx: Ctx = { c, board, M, stored, progress, result, busy, show, again, names: await loadNames(), msg };
  const body = !stored ? newKeyPanel(ctx) : !session ? unlockPanel(ctx, stored) : stepPanel(ctx, session);
  clear(
    root,
    h('h1', {}, t('trustee.heading')),
    h('p', {}, t('trustee.intro')),
    h('p', { 'data-testid': 'trustee-phase' }, t('trustee.phase', { phase: t(`phase.${c.phase}`) })),
    ceremonyTable(c, board),
    h('div', { class: 'actions' }, h('button', { type: 'button', 'data-testid': 'trustee-refresh', onclick: () => again() }, t('trustee.refresh'))),
    body,
    progress.el,
    result,
  );
  root.dataset.rendered = String(++renders);
  focusHeading(root);
}

interface Ctx {
  c: OPS.CeremonyJson;
  board: OPS.Board;
  M: Uint8Array;
  stored: KS.StoreFile | null;
  progress: ReturnType<typeof progressBox>;
  result: HTMLElement;
  busy: (btn: HTMLButtonElement, work: () => Promise<string>) => Promise<void>;
  show: (ok: boolean, text: string) => void;
  again: (m?: { ok: boolean; text: string }) => void;
  names: Names;
  /** The last result line, kept over the automatic refreshes. */
  msg?: { ok: boolean; text: string };
}

function importControl(ctx: Ctx): HTMLElement {
  const input = h('input', { id: 'tr-import', type: 'file', accept: 'application/json,.json', 'data-testid': 'trustee-import' }) as HTMLInputElement;
  input.addEventListener('change', async () => {
    const f = input.files?.[0];
    if (!f) return;
    try {
      const file = KS.parseFile(await f.text());
      if (file.manifest_hash !== ctx.c.manifest_hash) U.fail('wrong_election', 'this key file is for another election');
      KS.save(file);
      session = null;
      ctx.again({ ok: true, text: t('trustee.imported', { i: file.trustee }) });
    } catch (e) {
      ctx.show(false, errorText(e));
    }
  });
  return field('tr-import', t('trustee.import'), input);
}

/** No key on this device: make one (round 1) or import a key file. */
function newKeyPanel(ctx: Ctx): HTMLElement {
  const { c } = ctx;
  if (c.phase !== 'key_ceremony') return h('section', {}, h('h2', {}, t('trustee.noKey')), h('p', {}, t('trustee.noKeyLate')), importControl(ctx));
  const index = h('select', { id: 'tr-index' }, Array.from({ length: c.n }, (_, k) => h('option', { value: k + 1 }, String(k + 1)))) as HTMLSelectElement;
  const token = h('input', { id: 'tr-token', autocomplete: 'off', spellcheck: 'false', 'aria-describedby': 'tr-token-hint' }) as HTMLInputElement;
  const pass = h('input', { id: 'tr-pass', type: 'password', autocomplete: 'new-password', 'aria-describedby': 'tr-pass-hint' }) as HTMLInputElement;
  const pass2 = h('input', { id: 'tr-pass2', type: 'password', autocomplete: 'new-password' }) as HTMLInputElement;
  const btn = h('button', { type: 'submit', class: 'primary', 'data-testid': 'trustee-create' }, t('trustee.create')) as HTMLButtonElement;
  const submit = () => {
    if (!/^[0-9a-f]{64}$/.test(token.value.trim())) return ctx.show(false, t('trustee.badToken'));
    if (pass.value.length < 12) return ctx.show(false, t('trustee.shortPass'));
    if (pass.value !== pass2.value) return ctx.show(false, t('trustee.passMismatch'));
    const i = Number(index.value);
    void ctx.busy(btn, async () => {
      ctx.progress.set('kdf', 0, 1);
      const secrets = OPS.init(ctx.M, c.n, c.t, i, token.value.trim());
      const { unlocked, file } = await KS.create(pass.value, { manifest_hash: c.manifest_hash, trustee: i, n: c.n, t: c.t }, secrets);
      KS.save(file);
      session = unlocked;
      await OPS.postCeremony(i, secrets, secrets.round1!);
      return t('trustee.posted.round1');
    });
  };
  return h('section', {},
    h('h2', {}, t('trustee.newKey')),
    h('p', {}, t('trustee.newKeyText')),
    h('form', { onsubmit: (e: Event) => { e.preventDefault(); submit(); } },
      field('tr-index', t('trustee.index'), index),
      field('tr-token', t('trustee.token'), token, t('trustee.tokenHint')),
      field('tr-pass', t('trustee.pass'), pass, t('trustee.passHint')),
      field('tr-pass2', t('trustee.pass2'), pass2),
      h('div', { class: 'actions' }, btn),
    ),
    importControl(ctx),
  );
}

function exportButton(file: KS.StoreFile): HTMLElement {
  return h('button', { type: 'button', 'data-testid': 'trustee-export', onclick: () => KS.download(file) }, t('trustee.export'));
}

function unlockPanel(ctx: Ctx, file: KS.StoreFile): HTMLElement {
  const pass = h('input', { id: 'tr-unlock', type: 'password', autocomplete: 'current-password' }) as HTMLInputElement;
  const btn = h('button', { type: 'submit', class: 'primary', 'data-testid': 'trustee-unlock' }, t('trustee.unlock')) as HTMLButtonElement;
  return h('section', {},
    h('h2', {}, t('trustee.keyHere', { i: file.trustee, phase: t(`trustee.store.${file.phase}`) })),
    h('form', { onsubmit: (e: Event) => { e.preventDefault(); void ctx.busy(btn, async () => { ctx.progress.set('kdf', 0, 1); session = await KS.unlock(file, pass.value); return t('trustee.unlocked'); }); } },
      field('tr-unlock', t('trustee.pass'), pass),
      h('div', { class: 'actions' }, btn, exportButton(file)),
    ),
    importControl(ctx),
  );
}

/** The next step for an unlocked store, by its phase and what the board holds. */
function stepPanel(ctx: Ctx, u: KS.Unlocked): HTMLElement {
  const { c, board, M } = ctx;
  const { n, t: th, trustee: i, phase } = u.header;
  const file = ctx.stored!;
  const step = (key: string, ready: boolean, waitKey: string, work: () => Promise<string>) => {
    const btn = h('button', { type: 'button', class: 'primary', 'data-testid': 'trustee-step', disabled: !ready }, t(key)) as HTMLButtonElement;
    btn.addEventListener('click', () => void ctx.busy(btn, work));
    if (!ready) waitForOthers(ctx);
    return [h('div', { class: 'actions' }, btn), ready ? null : h('p', { class: 'note' }, t(waitKey))];
  };
  /** Seals the new state, then posts (§T1: the store first). */
  const advance = async (to: KS.Phase, s: KS.Secrets, post: string[]) => {
    KS.save(await KS.seal(u, to, s));
    for (const p of post) if (!board.posted.has(p)) await OPS.postCeremony(i, s, p);
  };
  let body: (HTMLElement | null)[] = [];
  const all = (k: number) => k >= n;
  if (phase === 'committed') {
    if (!board.posted.has(u.secrets.round1 ?? '')) body = step('trustee.repost', true, '', async () => (await OPS.postCeremony(i, u.secrets, u.secrets.round1!), t('trustee.posted.round1')));
    else body = step('trustee.deal', all(board.round1.length), 'trustee.wait.round1', async () => {
      const s = OPS.deal(M, n, th, i, u.secrets, board);
      await advance('dealt', s, [s.round2!]);
      return t('trustee.posted.round2');
    });
  } else if (phase === 'dealt') {
    if (!board.posted.has(u.secrets.round2 ?? '')) body = step('trustee.repost', true, '', async () => (await OPS.postCeremony(i, u.secrets, u.secrets.round2!), t('trustee.posted.round2')));
    else body = step('trustee.receive', all(board.round2.length), 'trustee.wait.round2', async () => {
      const s = OPS.receive(M, n, th, i, u.secrets, board);
      await advance('received', s, s.complaints!);
      return plural('trustee.posted.complaints', s.complaints!.length);
    });
  } else if (phase === 'received') {
    body = step('trustee.finish', c.joint_key !== null, 'trustee.wait.jointKey', async () => {
      await advance('finished', OPS.finish(M, n, th, i, u.secrets, board, c.joint_key!), []);
      return t('trustee.finished');
    });
  } else body = decryptPanel(ctx, u);
  return h('section', { 'data-testid': 'trustee-step-panel' },
    h('h2', {}, t('trustee.keyHere', { i, phase: t(`trustee.store.${phase}`) })),
    ...body,
    h('div', { class: 'actions' },
      exportButton(file),
      h('button', { type: 'button', onclick: () => { session = null; checked = null; ctx.again(); } }, t('trustee.lock')),
    ),
  );
}

let waiting: ReturnType<typeof setTimeout> | undefined;
/** While the next step waits for other trustees (or the commission), look again every few seconds. */
function waitForOthers(ctx: Ctx): void {
  clearTimeout(waiting);
  waiting = setTimeout(() => {
    if (location.hash.startsWith('#/trustee') && ctx.result.isConnected && !working) ctx.again(ctx.msg);
  }, 5000);
}

function keyFacts(u: KS.Unlocked): HTMLElement {
  return h('dl', { class: 'review' },
    h('dt', {}, t('trustee.jointKey')), h('dd', {}, h('code', { class: 'hex', 'data-testid': 'trustee-joint-key' }, u.secrets.joint_key ?? '')),
    h('dt', {}, t('trustee.verificationKey')), h('dd', {}, h('code', { class: 'hex' }, u.secrets.verification_key ?? '')),
    h('dt', {}, t('trustee.qualified')), h('dd', {}, (u.secrets.qualified ?? []).join(', ')),
  );
}

/** What the trustee is about to decrypt: per district and contest, the counted ballots; the tally hash; the checkpoint. */
function tallySummary(x: CheckedTally, names: Names): HTMLElement {
  return h('div', { 'data-testid': 'tally-summary' },
    h('p', { class: 'ok' }, t('trustee.tallyMatches')),
    x.keyFromServer ? h('p', { class: 'notice' }, t('trustee.keyTofu')) : null,
    h('p', {}, t('trustee.checkpoint', { size: Number(x.checkpoint.size) }), ' ', h('code', { class: 'hex' }, U.toHex(x.checkpoint.root))),
    h('p', {}, t('trustee.ballotsCounted', { counted: x.counted, cast: x.ballotsOnBoard })),
    h('div', { class: 'table-wrap' }, h('table', {},
      h('caption', {}, t('trustee.aboutTo')),
      h('thead', {}, h('tr', {}, ...['district', 'contest', 'ballots', 'ciphertexts'].map((k) => h('th', { scope: 'col' }, t(`trustee.col.${k}`))))),
      h('tbody', {}, x.records.map((r) =>
        h('tr', {},
          h('th', { scope: 'row' }, names.district(r.district), ' ', h('code', {}, r.district)),
          h('td', {}, names.contest(r.contest), ' ', h('code', {}, r.contest)),
          h('td', {}, num(r.ballots)),
          h('td', {}, num(r.sums.length)),
        ))),
    )),
    h('p', {}, t('trustee.tallyHash')), h('code', { class: 'hex', 'data-testid': 'tally-hash' }, x.tallyHash),
  );
}

function decryptPanel(ctx: Ctx, u: KS.Unlocked): (HTMLElement | null)[] {
  const { c } = ctx;
  const facts = keyFacts(u);
  if (c.phase !== 'tallied') return [h('p', { class: 'ok' }, t('trustee.ready')), facts, h('p', { class: 'note' }, t(c.phase === 'decrypted' ? 'trustee.done' : 'trustee.wait.tally'))];
  const boardKey = h('input', { id: 'tr-board-key', autocomplete: 'off', spellcheck: 'false', 'aria-describedby': 'tr-board-key-hint' }) as HTMLInputElement;
  const checkBtn = h('button', { type: 'button', class: checked ? '' : 'primary', 'data-testid': 'trustee-check' }, t('trustee.check')) as HTMLButtonElement;
  const out = h('div', {}, checked ? tallySummary(checked, ctx.names) : null);
  checkBtn.addEventListener('click', async () => {
    checkBtn.disabled = true;
    checked = null;
    clear(out);
    try {
      const M = U.fromHex(u.header.manifest_hash, 32);
      const K = U.decodeElement(U.fromHex(u.secrets.joint_key ?? '', 32), false);
      checked = await checkTally({ M, K, n: u.header.n, t: u.header.t }, boardKey.value || null, ctx.progress.set);
      ctx.again({ ok: true, text: t('trustee.tallyMatches') });
    } catch (e) {
      checkBtn.disabled = false;
      ctx.show(false, t('trustee.tallyRefused', { message: errorText(e) }));
    }
  });
  const decryptBtn = h('button', { type: 'button', class: 'primary', 'data-testid': 'trustee-decrypt', disabled: !checked }, t('trustee.decrypt')) as HTMLButtonElement;
  decryptBtn.addEventListener('click', () => void ctx.busy(decryptBtn, async () => {
    if (!checked) U.fail('not_checked', 'check the tally first');
    const payloads = await OPS.decrypt(u.header.trustee, u.secrets, checked, (d, n) => ctx.progress.set('decrypt', d, n));
    await OPS.postPartials(u.header.trustee, u.secrets, payloads);
    checked = null;
    return t('trustee.posted.partials');
  }));
  return [
    facts,
    h('h3', {}, t('trustee.decryptHeading')),
    h('p', {}, t('trustee.decryptText')),
    field('tr-board-key', t('trustee.boardKey'), boardKey, t('trustee.boardKeyHint')),
    h('div', { class: 'actions' }, checkBtn),
    out,
    h('div', { class: 'actions' }, decryptBtn),
  ];
}
