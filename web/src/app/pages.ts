// Home, receipt check, turnout and results pages.
import { api, Area, ApiError, ResultsJson } from './api.js';
import { ballotBox, resolveShort } from './ballotbox.js';
import { clear, focusHeading, h } from './dom.js';
import { currentLang, dateTime, num, percent, plural, t } from './i18n.js';
import { Names, loadNames } from './names.js';
import { parseShortCode, shortCode } from './receiptcode.js';
import { CheckResult, checkTracking, errorText, savedReceipts } from './receipts.js';

export type Now = 'before' | 'voting' | 'closed' | 'results' | 'unknown';

/** What a voter can do now, from the phase and the schedule (spec/record.md §R2.1 windows). */
export async function electionNow(): Promise<{ names: Names; now: Now; phase: string }> {
  const [names, status] = await Promise.all([loadNames(), api.status().catch(() => null)]);
  const phase = status?.phase ?? 'empty';
  const s = names.n?.schedule;
  const time = Date.now();
  let now: Now = 'unknown';
  if (phase === 'decrypted') now = 'results';
  else if (phase === 'closed' || phase === 'tallied' || (s && time >= Date.parse(s.voting_closes))) now = 'closed';
  else if (phase === 'voting' && s && time >= Date.parse(s.voting_opens)) now = 'voting';
  else if (s) now = 'before';
  return { names, now, phase };
}

/** The election's title, voting period in the voter's time zone, and what the voter can do now. */
export function electionBanner(names: Names, now: Now): HTMLElement[] {
  const s = names.n?.schedule;
  if (!s) return [h('p', { 'data-testid': 'election-now', 'data-now': now }, t('home.noElection'))];
  return [
    h('p', { class: 'big', 'data-testid': 'election-title' }, names.title()),
    h('p', { 'data-testid': 'election-dates' }, t('home.period', { from: dateTime(s.voting_opens), to: dateTime(s.voting_closes) })),
    h('p', { class: now === 'voting' ? 'ok' : 'notice', 'data-testid': 'election-now', 'data-now': now },
      now === 'voting' ? t('now.voting', { to: dateTime(s.voting_closes) })
        : now === 'before' ? t('now.before', { from: dateTime(s.voting_opens) })
          : now === 'closed' ? t('now.closed') : now === 'results' ? t('now.results') : t('home.noElection')),
  ];
}

export async function homePage(root: HTMLElement): Promise<void> {
  clear(root, h('h1', {}, t('home.heading')), h('p', {}, t('common.loading')));
  const { names, now } = await electionNow();
  clear(
    root,
    h('h1', {}, t('home.heading')),
    electionBanner(names, now),
    h('p', {}, t('home.text')),
    h('ul', { class: 'tiles' },
      h('li', {}, h('a', { href: '#/vote', class: `button${now === 'voting' || now === 'before' ? ' primary' : ''}` }, now === 'before' ? t('home.apply') : t('home.vote'))),
      h('li', {}, h('a', { href: '#/check', class: 'button' }, t('home.check'))),
      h('li', {}, h('a', { href: '#/ballots', class: 'button' }, t('home.ballots'))),
      h('li', {}, h('a', { href: '#/turnout', class: 'button' }, t('home.turnout'))),
      h('li', {}, h('a', { href: '#/results', class: `button${now === 'results' ? ' primary' : ''}` }, t('home.results'))),
    ),
  );
  focusHeading(root);
}

/** One line of a check: a pass (✓), a caveat (!) or a failure (✗), never a caveat with a ✓. */
function stepItem(s: { plain: string; status: 'ok' | 'caveat' | 'fail' }): HTMLElement {
  const mark = s.status === 'ok' ? '✓' : s.status === 'caveat' ? '!' : '✗';
  return h('li', { class: `step ${s.status}`, 'data-status': s.status },
    h('span', { class: 'mark', 'aria-hidden': 'true' }, mark),
    h('span', { class: 'visually-hidden' }, t(`check.mark.${s.status}`)),
    h('span', {}, s.plain),
  );
}

function renderCheck(out: HTMLElement, r: CheckResult, names: Names): void {
  const failed = r.steps.some((s) => s.status === 'fail');
  const audited = r.kind === 'audited_ballot';
  const verdict = failed ? t('check.failed', { message: '' }) : audited ? t('check.audited') : t('check.ok');
  clear(
    out,
    h('p', { class: failed ? 'error big' : audited ? 'notice big' : 'ok big', 'data-testid': 'check-verdict', 'data-kind': r.kind }, verdict),
    audited && h('p', { 'data-testid': 'audited-explain' }, t('check.auditedText')),
    audited && r.audit && h('div', { 'data-testid': 'audited-choices' }, choicesOf(r.audit, names)),
    h('ul', { class: 'steps' }, r.steps.map(stepItem)),
    h('p', { class: 'note' }, t('check.notChecked')),
    h('details', { 'data-testid': 'check-details' },
      h('summary', {}, t('check.details')),
      h('ul', { class: 'detail' }, r.details.map((d) => h('li', {}, d))),
    ),
  );
}

/** An audited ballot's choices, with the manifest's names. */
export function choicesOf(a: NonNullable<CheckResult['audit']>, names: Names): HTMLElement {
  return h('dl', { class: 'review' },
    a.contests.map((c, ci) => {
      const chosen = c.options.map((o, oi) => ({ o, v: a.selections[ci][oi] })).filter((x) => x.v > 0);
      return [
        h('dt', {}, names.contest(c.id, c.title)),
        h('dd', { 'data-contest': c.id }, chosen.length
          ? h('ul', {}, chosen.map(({ o, v }) => h('li', {}, c.shape.option_max > 1 ? `${names.option(c.id, o.id, o.name)}: ${num(v)}` : names.option(c.id, o.id, o.name))))
          : t('ballot.none')),
      ];
    }).flat(),
  );
}

export function checkPage(root: HTMLElement, initial?: string): void {
  const input = h('input', { id: 'tracking', name: 'tracking', autocomplete: 'off', spellcheck: 'false', autocapitalize: 'characters', value: initial ?? '' }) as HTMLInputElement;
  const out = h('div', { 'aria-live': 'polite', 'data-testid': 'check-result' });
  const run = async () => {
    let code = input.value.trim().toLowerCase();
    const short = parseShortCode(code);
    if (!/^[0-9a-f]{64}$/.test(code) && !short) {
      clear(out, h('p', { class: 'error', role: 'alert', 'data-testid': 'check-verdict' }, t('check.badCode')));
      input.focus();
      return;
    }
    clear(out, h('p', {}, t('common.loading')));
    try {
      const names = await loadNames();
      if (short) {
        const status = await api.status();
        const found = await resolveShort(short.prefixBits, status.tree_size);
        if (found.length === 0) throw new ApiError(404, 'unknown_tracking_code', '');
        // spec/receipt-code.md §C3: two ballots with the same 75 bits need the full code.
        if (found.length > 1) {
          clear(out, h('p', { class: 'error', role: 'alert', 'data-testid': 'check-verdict' }, t('check.ambiguous')));
          return;
        }
        code = found[0].tracking;
      }
      const pinned = savedReceipts().find((r) => r.tracking === code)?.board_key;
      renderCheck(out, await checkTracking(code, pinned), names);
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
      h('ul', { class: 'saved' }, saved.map((r) => h('li', {}, h('a', { href: `#/check/${r.tracking}` }, h('span', { class: 'code' }, shortCode(r.tracking))), ` — ${t(`kind.${r.kind}`)}`))),
    ),
  );
  focusHeading(root);
  if (initial) void run();
}

function bar(value: number, max: number): HTMLElement {
  const w = max > 0 ? Math.round((100 * value) / max) : 0;
  return h('span', { class: 'bar', 'aria-hidden': 'true' }, h('span', { class: `fill w${Math.min(100, Math.max(0, w))}` }));
}

function areaTable(caption: string, rows: Area[], name: (id: string) => string): HTMLElement {
  return h('div', { class: 'table-wrap' }, h('table', {},
    h('caption', {}, caption),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('turnout.id')), h('th', { scope: 'col' }, t('turnout.eligible')), h('th', { scope: 'col' }, t('turnout.voted')), h('th', { scope: 'col' }, t('turnout.percent')))),
    h('tbody', {}, rows.map((r) =>
      h('tr', {}, h('th', { scope: 'row' }, name(r.id)), h('td', {}, num(r.eligible)), h('td', {}, num(r.voted)), h('td', {}, percent(r.voted, r.eligible), bar(r.voted, r.eligible))),
    )),
  ));
}

let refresh: ReturnType<typeof setTimeout> | undefined;

export async function turnoutPage(root: HTMLElement, live = false): Promise<void> {
  clearTimeout(refresh);
  if (!live) clear(root, h('h1', {}, t('turnout.heading')), h('p', {}, t('common.loading')));
  try {
    const [tu, names] = await Promise.all([api.turnout(), loadNames()]);
    const maxHour = Math.max(1, ...tu.hours.map((x) => x.ballots));
    clear(
      root,
      h('h1', {}, t('turnout.heading')),
      names.n && h('p', {}, names.title()),
      h('p', {}, t('turnout.phase', { phase: t(`phase.${tu.phase}`) })),
      h('p', { class: 'big', 'data-testid': 'turnout-summary' }, t('turnout.summary', { voted: tu.voted, eligible: tu.eligible }), ' ', percent(tu.voted, tu.eligible)),
      h('p', {}, plural('turnout.ballots', tu.ballots), ' ', plural('turnout.audited', tu.audited)),
      bar(tu.voted, tu.eligible),
      areaTable(t('turnout.regions'), tu.regions, (id) => names.region(id)),
      areaTable(t('turnout.districts'), tu.districts, (id) => names.district(id)),
      h('div', { class: 'table-wrap' }, h('table', {},
        h('caption', {}, t('turnout.hours')),
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('turnout.hour')), h('th', { scope: 'col' }, t('turnout.ballotsCol')), h('th', { scope: 'col' }, t('turnout.voters')))),
        h('tbody', {}, tu.hours.map((x) => h('tr', {}, h('th', { scope: 'row' }, x.hour), h('td', {}, num(x.ballots), bar(x.ballots, maxHour)), h('td', {}, num(x.voters))))),
      )),
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

type Row = ResultsJson['results'][number];

function scopeName(x: Row, names: Names): string {
  if (x.scope === 'total') return t('results.scope.total');
  return x.scope === 'region' ? names.region(x.id ?? '') : names.district(x.id ?? '');
}

/** One contest's result: a bar chart with the numbers written out (the bars are decoration). */
function contestResult(x: Row, names: Names, level: 'h2' | 'h4'): HTMLElement {
  const total = x.counts.reduce((a, b) => a + b, 0);
  return h('section', { class: 'result', 'data-contest': x.contest, 'data-scope': x.scope },
    h(level, {}, names.contest(x.contest)),
    h('p', { class: 'muted' }, plural('results.ballots', x.ballots)),
    h('ol', { class: 'chart' }, x.options.map((o, i) =>
      h('li', {},
        h('span', { class: 'label' }, names.option(x.contest, o)),
        h('span', { class: 'figures' }, `${num(x.counts[i])} · ${percent(x.counts[i], total)}`),
        bar(x.counts[i], total),
      ))),
  );
}

function csv(r: ResultsJson, names: Names): string {
  const q = (s: string) => `"${s.replace(/"/g, '""')}"`;
  const lines = [['scope', 'area_id', 'area', 'contest_id', 'contest', 'option_id', 'option', 'votes', 'ballots'].join(',')];
  for (const x of r.results)
    x.options.forEach((o, i) =>
      lines.push([x.scope, x.id ?? '', q(scopeName(x, names)), x.contest, q(names.contest(x.contest)), o, q(names.option(x.contest, o)), String(x.counts[i]), String(x.ballots)].join(',')));
  return '\ufeff' + lines.join('\r\n') + '\r\n';
}

export async function resultsPage(root: HTMLElement): Promise<void> {
  clear(root, h('h1', {}, t('results.heading')), h('p', {}, t('common.loading')));
  try {
    const [r, names] = await Promise.all([api.results(), loadNames()]);
    const totals = r.results.filter((x) => x.scope === 'total');
    const areas = (scope: string) => {
      const ids = [...new Set(r.results.filter((x) => x.scope === scope).map((x) => x.id ?? ''))];
      return ids.map((id) =>
        h('details', { class: 'area', 'data-area': id },
          h('summary', {}, scope === 'region' ? names.region(id) : names.district(id)),
          r.results.filter((x) => x.scope === scope && x.id === id).map((x) => contestResult(x, names, 'h4'))));
    };
    const file = URL.createObjectURL(new Blob([csv(r, names)], { type: 'text/csv;charset=utf-8' }));
    clear(
      root,
      h('h1', {}, t('results.heading')),
      names.n && h('p', { class: 'big' }, names.title()),
      h('div', { 'data-testid': 'results-total' }, totals.map((x) => contestResult(x, names, 'h2'))),
      h('div', { class: 'actions' }, h('a', { class: 'button', href: file, download: `results-${names.n?.election ?? 'election'}-${currentLang()}.csv`, 'data-testid': 'results-csv' }, t('results.csv'))),
      h('h2', {}, t('results.byRegion')),
      areas('region'),
      h('h2', {}, t('results.byDistrict')),
      areas('district'),
    );
  } catch (e) {
    const notYet = e instanceof ApiError && (e.code === 'results_not_published' || e.code === 'no_manifest');
    clear(root, h('h1', {}, t('results.heading')), h('p', { class: notYet ? 'note' : 'error', role: 'status', 'data-testid': 'results-status' }, notYet ? t('results.notYet') : errorText(e)));
  }
  focusHeading(root);
}

const BOX_PAGE = 50;

/** The public list of tracking codes (13.9): every ballot on the board, searchable, paged. */
export async function ballotsPage(root: HTMLElement, pageArg?: string): Promise<void> {
  clear(root, h('h1', {}, t('box.heading')), h('p', {}, t('common.loading')));
  try {
    const status = await api.status();
    const box = (await ballotBox(status.tree_size)).filter((e) => e.kind === 'ballot');
    const replaced = box.filter((e) => e.replaced).length;
    const page = Math.max(0, Number(pageArg) || 0);
    const search = h('input', { id: 'box-search', type: 'search', autocomplete: 'off', spellcheck: 'false' }) as HTMLInputElement;
    const list = h('div', { 'data-testid': 'box-list' });
    const render = (items: typeof box, p: number) => {
      const slice = items.slice(p * BOX_PAGE, (p + 1) * BOX_PAGE);
      clear(list,
        h('p', {}, plural('box.count', items.length)),
        replaced > 0 && h('p', {}, plural('box.replacedCount', replaced)),
        h('ol', { class: 'box', start: p * BOX_PAGE + 1 }, slice.map((e) => h('li', e.replaced ? { 'data-replaced': 'true' } : {},
          h('a', { href: `#/check/${e.tracking}`, class: 'code' }, shortCode(e.tracking)),
          e.replaced && h('span', { class: 'muted' }, ' — ', t('box.replaced'))))),
        h('div', { class: 'actions' },
          p > 0 && h('a', { class: 'button', href: `#/ballots/${p - 1}` }, t('box.prev')),
          (p + 1) * BOX_PAGE < items.length && h('a', { class: 'button', href: `#/ballots/${p + 1}` }, t('box.next')),
        ));
    };
    search.addEventListener('input', () => {
      const q = search.value.toUpperCase().replace(/[\s-]/g, '');
      render(q ? box.filter((e) => shortCode(e.tracking).replace(/-/g, '').startsWith(q) || e.tracking.startsWith(q.toLowerCase())) : box, 0);
    });
    render(box, page);
    clear(root,
      h('h1', {}, t('box.heading')),
      h('p', {}, t('box.text')),
      h('div', { class: 'field' }, h('label', { for: 'box-search' }, t('box.search')), search),
      list);
  } catch (e) {
    clear(root, h('h1', {}, t('box.heading')), h('p', { class: 'error', role: 'alert' }, errorText(e)));
  }
  focusHeading(root);
}
