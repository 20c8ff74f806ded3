// Home, receipt check, turnout and results pages.
import { api, Area } from './api.js';
import { clear, focusHeading, h } from './dom.js';
import { t } from './i18n.js';
import { checkTracking, errorText, savedReceipts } from './receipts.js';
import { ApiError } from './api.js';

export function homePage(root: HTMLElement): void {
  clear(
    root,
    h('h1', {}, t('home.heading')),
    h('p', {}, t('home.text')),
    h('ul', { class: 'tiles' },
      h('li', {}, h('a', { href: '#/vote', class: 'button primary' }, t('home.vote'))),
      h('li', {}, h('a', { href: '#/check', class: 'button' }, t('home.check'))),
      h('li', {}, h('a', { href: '#/turnout', class: 'button' }, t('home.turnout'))),
      h('li', {}, h('a', { href: '#/results', class: 'button' }, t('home.results'))),
    ),
  );
  focusHeading(root);
}

export function checkPage(root: HTMLElement, initial?: string): void {
  const input = h('input', { id: 'tracking', name: 'tracking', autocomplete: 'off', spellcheck: 'false', size: 64, value: initial ?? '' }) as HTMLInputElement;
  const out = h('div', { 'aria-live': 'polite', 'data-testid': 'check-result' });
  const run = async () => {
    const code = input.value.trim().toLowerCase();
    if (!/^[0-9a-f]{64}$/.test(code)) {
      clear(out, h('p', { class: 'error', role: 'alert' }, t('check.badCode')));
      input.focus();
      return;
    }
    clear(out, h('p', {}, t('common.loading')));
    const pinned = savedReceipts().find((r) => r.tracking === code)?.board_key;
    try {
      const steps = await checkTracking(code, pinned);
      const allOk = steps.every((s) => s.ok);
      clear(
        out,
        h('p', { class: allOk ? 'ok big' : 'error big', 'data-testid': 'check-verdict' }, allOk ? t('check.ok') : t('check.failed', { message: '' })),
        h('ol', { class: 'steps' }, steps.map((s) => h('li', { class: s.ok ? 'ok' : 'error' }, (s.ok ? '✓ ' : '✗ ') + s.text))),
        h('p', { class: 'note' }, t('check.step.notChecked')),
      );
    } catch (e) {
      clear(out, h('p', { class: 'error big', role: 'alert', 'data-testid': 'check-verdict' }, t('check.failed', { message: errorText(e) })));
    }
  };
  const saved = savedReceipts();
  clear(
    root,
    h('h1', {}, t('check.heading')),
    h('p', {}, t('check.text')),
    h('form', { onsubmit: (e: Event) => { e.preventDefault(); void run(); } },
      h('div', { class: 'field' }, h('label', { for: 'tracking' }, t('check.code')), input),
      h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, t('check.do'))),
    ),
    out,
    saved.length > 0 && h('section', {},
      h('h2', {}, t('check.saved')),
      h('ul', { class: 'saved' }, saved.map((r) => h('li', {}, h('a', { href: `#/check/${r.tracking}` }, h('code', {}, r.tracking)), ` — ${t(`kind.${r.kind}`)}`))),
    ),
  );
  focusHeading(root);
  if (initial) void run();
}

const pct = (a: number, b: number): string => (b > 0 ? `${((100 * a) / b).toFixed(1)}%` : '—');

function bar(value: number, max: number): HTMLElement {
  const w = max > 0 ? Math.round((100 * value) / max) : 0;
  return h('span', { class: 'bar', 'aria-hidden': 'true' }, h('span', { class: `fill w${Math.min(100, Math.max(0, w))}` }));
}

function areaTable(caption: string, rows: Area[]): HTMLElement {
  return h('table', {},
    h('caption', {}, caption),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('turnout.id')), h('th', { scope: 'col' }, t('turnout.eligible')), h('th', { scope: 'col' }, t('turnout.voted')), h('th', { scope: 'col' }, t('turnout.percent')))),
    h('tbody', {}, rows.map((r) =>
      h('tr', {}, h('th', { scope: 'row' }, r.id), h('td', {}, String(r.eligible)), h('td', {}, String(r.voted)), h('td', {}, pct(r.voted, r.eligible), bar(r.voted, r.eligible))),
    )),
  );
}

let refresh: ReturnType<typeof setTimeout> | undefined;

export async function turnoutPage(root: HTMLElement, live = false): Promise<void> {
  clearTimeout(refresh);
  if (!live) clear(root, h('h1', {}, t('turnout.heading')), h('p', {}, t('common.loading')));
  try {
    const tu = await api.turnout();
    const maxHour = Math.max(1, ...tu.hours.map((x) => x.ballots));
    clear(
      root,
      h('h1', {}, t('turnout.heading')),
      h('p', {}, t('turnout.phase', { phase: t(`phase.${tu.phase}`) })),
      h('p', { class: 'big', 'data-testid': 'turnout-summary' }, t('turnout.summary', { voted: tu.voted, eligible: tu.eligible, ballots: tu.ballots, audited: tu.audited }), ' ', pct(tu.voted, tu.eligible)),
      bar(tu.voted, tu.eligible),
      areaTable(t('turnout.regions'), tu.regions),
      areaTable(t('turnout.districts'), tu.districts),
      h('table', {},
        h('caption', {}, t('turnout.hours')),
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('turnout.hour')), h('th', { scope: 'col' }, t('turnout.ballots')), h('th', { scope: 'col' }, t('turnout.voters')))),
        h('tbody', {}, tu.hours.map((x) => h('tr', {}, h('th', { scope: 'row' }, x.hour), h('td', {}, String(x.ballots), bar(x.ballots, maxHour)), h('td', {}, String(x.voters))))),
      ),
      h('p', { class: 'note' }, t('turnout.live')),
    );
    // Live while voting: refresh quietly as long as this page is shown.
    if (tu.phase === 'voting' || tu.phase === 'registration')
      refresh = setTimeout(() => {
        if (location.hash.startsWith('#/turnout') && root.isConnected) void turnoutPage(root, true);
      }, 15000);
  } catch (e) {
    clear(root, h('h1', {}, t('turnout.heading')), h('p', { class: 'error', role: 'alert' }, errorText(e)));
  }
  if (!live) focusHeading(root);
}

export async function resultsPage(root: HTMLElement): Promise<void> {
  clear(root, h('h1', {}, t('results.heading')), h('p', {}, t('common.loading')));
  try {
    const r = await api.results();
    clear(
      root,
      h('h1', {}, t('results.heading')),
      r.results.map((x) => {
        const total = x.counts.reduce((a, b) => a + b, 0);
        const scope = x.scope === 'total' ? t('results.scope.total') : t(`results.scope.${x.scope}`, { id: x.id ?? '' });
        return h('section', { class: 'result' },
          h('h2', {}, `${scope} — ${t('results.contest', { contest: x.contest, ballots: x.ballots })}`),
          h('table', {},
            h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('results.option')), h('th', { scope: 'col' }, t('results.count')), h('th', { scope: 'col' }, t('results.share')))),
            h('tbody', {}, x.options.map((o, i) => h('tr', {}, h('th', { scope: 'row' }, o), h('td', {}, String(x.counts[i])), h('td', {}, pct(x.counts[i], total), bar(x.counts[i], total))))),
          ),
        );
      }),
    );
  } catch (e) {
    const notYet = e instanceof ApiError && (e.code === 'results_not_published' || e.code === 'no_manifest');
    clear(root, h('h1', {}, t('results.heading')), h('p', { class: notYet ? 'note' : 'error', role: 'status', 'data-testid': 'results-status' }, notYet ? t('results.notYet') : errorText(e)));
  }
  focusHeading(root);
}
