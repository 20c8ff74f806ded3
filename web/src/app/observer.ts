// The observers' dashboard (#/observer): public, no login. Live turnout by
// region and by hour (counts only, spec/api.md §A2 `GET /election/turnout`:
// nothing about choices before the results), the latest signed checkpoint
// and its cosigners (board.md §B7.4, §B10), an alarm when that checkpoint
// is not an extension of the one this device saw before (§B4.5), the
// complaints and answers (registration.md §G8), and the refusal statistics
// only if the server publishes them.
import * as U from '../crypto/index.js';
import { ApiError, TurnoutJson, api, boardApi, call } from './api.js';
import { barChart, columnChart } from './charts.js';
import { clear, focusHeading, h } from './dom.js';
import { dateTime, num, percent, t } from './i18n.js';
import { Names, loadNames } from './names.js';
import { errorText } from './receipts.js';
import { checkAgainstSeen, seenNow } from './seen.js';

let timer: ReturnType<typeof setTimeout> | undefined;
const REFRESH_MS = 15_000;

function section(id: string, title: string, ...body: (HTMLElement | SVGElement | null)[]): HTMLElement {
  return h('section', { 'aria-labelledby': id, class: 'panel', 'data-testid': id }, h('h2', { id }, title), ...(body as HTMLElement[]));
}

function table(caption: string, head: string[], rows: string[][]): HTMLElement {
  return h('div', { class: 'table-wrap' }, h('table', {},
    h('caption', {}, caption),
    h('thead', {}, h('tr', {}, head.map((x) => h('th', { scope: 'col' }, x)))),
    h('tbody', {}, rows.map(([first, ...rest]) => h('tr', {}, h('th', { scope: 'row' }, first), rest.map((x) => h('td', {}, x))))),
  ));
}

function turnoutPanels(tu: TurnoutJson, names: Names): HTMLElement[] {
  const regions = tu.regions.map((r) => ({ label: names.region(r.id), value: r.eligible > 0 ? r.voted / r.eligible : 0, text: percent(r.voted, r.eligible) }));
  const hours = tu.hours.map((x) => ({ label: x.hour.slice(11, 16), value: x.ballots, text: num(x.ballots) }));
  return [
    section('obs-turnout', t('observer.turnout'),
      h('p', { class: 'big', 'data-testid': 'observer-summary' }, t('turnout.summary', { voted: tu.voted, eligible: tu.eligible }), ' ', percent(tu.voted, tu.eligible)),
      h('p', { class: 'note' }, t('observer.noResults')),
      h('h3', {}, t('turnout.regions')),
      h('figure', {}, barChart(t('observer.regionsChart'), regions, 1)),
      table(t('turnout.regions'), [t('turnout.id'), t('turnout.eligible'), t('turnout.voted'), t('turnout.percent')],
        tu.regions.map((r) => [names.region(r.id), num(r.eligible), num(r.voted), percent(r.voted, r.eligible)])),
      h('h3', {}, t('observer.hours')),
      tu.hours.length === 0 ? h('p', {}, t('observer.noHours')) : h('figure', {}, columnChart(t('observer.hoursChart'), hours)),
      tu.hours.length === 0 ? null : table(t('observer.hours'), [t('turnout.hour'), t('turnout.ballotsCol'), t('turnout.voters')],
        tu.hours.map((x) => [x.hour, num(x.ballots), num(x.voters)])),
    ),
  ];
}

async function checkpointPanel(baseline?: Map<string, string | null>): Promise<HTMLElement> {
  try {
    const config = await api.config();
    const key = U.parseVerifierKey(config.board_key);
    const note = await boardApi.checkpoint();
    const cp = U.verifyCheckpointNote(note, key);
    const consistency = await checkAgainstSeen(cp, baseline);
    const cosigners = U.parseNote(note).signatures.filter((s) => !(s.name === key.name && U.equalBytes(s.keyId, key.keyId)));
    return section('obs-checkpoint', t('observer.checkpoint'),
      consistency.ok ? null : h('p', { class: 'alarm', role: 'alert', 'data-testid': 'observer-alarm' }, t('observer.alarm'), ' ', consistency.text),
      h('p', { class: 'ok' }, t('observer.checkpointSigned', { size: Number(cp.size) })),
      h('p', {}, t('observer.root')), h('code', { class: 'hex' }, U.toHex(cp.root)),
      consistency.ok ? h('p', { class: 'ok', 'data-testid': 'observer-consistency' }, consistency.text) : null,
      h('h3', {}, t('observer.cosigners')),
      cosigners.length === 0
        ? h('p', { 'data-testid': 'observer-cosigners' }, t('observer.noCosigners'))
        : h('ul', { 'data-testid': 'observer-cosigners' }, cosigners.map((s) => h('li', {}, h('code', {}, s.name), ' ', h('code', {}, U.toHex(s.keyId))))),
      h('p', { class: 'note' }, t('observer.cosignersNote')),
    );
  } catch (e) {
    return section('obs-checkpoint', t('observer.checkpoint'), h('p', { class: 'alarm', role: 'alert', 'data-testid': 'observer-alarm' }, t('observer.alarm'), ' ', errorText(e)));
  }
}

interface Complaint {
  id: number;
  time: number;
  author: 'voter' | 'observer';
  text: string;
  status: 'open' | 'answered';
  answer: string | null;
}

async function complaintsPanel(): Promise<HTMLElement> {
  let list: Complaint[] | null = null;
  try {
    list = (await call<{ complaints: Complaint[] }>('/registration/complaints')).complaints;
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 404)) return section('obs-complaints', t('complaints.heading'), h('p', { class: 'error', role: 'alert' }, errorText(e)));
  }
  if (list === null) return section('obs-complaints', t('complaints.heading'), h('p', {}, t('complaints.unavailable')));
  const open = list.filter((c) => c.status === 'open').length;
  return section('obs-complaints', t('complaints.heading'),
    h('p', {}, t('observer.complaintsCount', { total: list.length, open })),
    list.length === 0 ? null : h('ol', { class: 'complaints' }, [...list].reverse().slice(0, 20).map((c) =>
      h('li', { 'data-status': c.status },
        h('h3', {}, t('complaints.item', { id: c.id, author: t(`complaints.${c.author}`), status: t(`complaints.status.${c.status}`) })),
        h('p', { class: 'muted' }, dateTime(c.time)),
        h('p', {}, c.text),
        c.answer ? h('div', { class: 'answer' }, h('p', {}, h('strong', {}, t('complaints.answer'))), h('p', {}, c.answer)) : null,
      ))),
    h('p', {}, h('a', { href: '#/complaints' }, t('observer.fileComplaint'))),
  );
}

/** The refusal statistics, only as the server publishes them; an admin-only or absent report is said to be so. */
async function refusalsPanel(): Promise<HTMLElement> {
  try {
    const r = await call<{ rows: { day: string; region: string; outcome: string; count: number }[] }>('/registration/report');
    return section('obs-refusals', t('observer.refusals'),
      table(t('observer.refusals'), [t('observer.day'), t('observer.region'), t('observer.outcome'), t('observer.count')], r.rows.map((x) => [x.day, x.region, x.outcome, num(x.count)])));
  } catch (e) {
    if (e instanceof ApiError && [401, 403, 404].includes(e.status)) return section('obs-refusals', t('observer.refusals'), h('p', { 'data-testid': 'observer-refusals' }, t('observer.refusalsNotPublished')));
    return section('obs-refusals', t('observer.refusals'), h('p', { class: 'error', role: 'alert' }, errorText(e)));
  }
}

export async function observerPage(root: HTMLElement, live = false): Promise<void> {
  clearTimeout(timer);
  // Taken before any await: a visit compares with what the device had seen when it began.
  const baseline = live ? undefined : seenNow();
  if (!live) clear(root, h('h1', {}, t('observer.heading')), h('p', {}, t('common.loading')));
  const [tu, names, cp, complaints, refusals] = await Promise.all([api.turnout().catch((e) => e as Error), loadNames(), checkpointPanel(baseline), complaintsPanel(), refusalsPanel()]);
  clear(
    root,
    h('h1', {}, t('observer.heading')),
    h('p', {}, t('observer.intro')),
    names.n ? h('p', { class: 'big' }, names.title()) : null,
    h('p', { 'data-testid': 'observer-updated', class: 'note' }, t('observer.updated', { time: dateTime(new Date()) })),
    cp,
    ...(tu instanceof Error ? [section('obs-turnout', t('observer.turnout'), h('p', { class: 'error', role: 'alert' }, errorText(tu)))] : turnoutPanels(tu, names)),
    complaints,
    refusals,
  );
  if (!live) focusHeading(root);
  timer = setTimeout(() => {
    if (location.hash.startsWith('#/observer') && root.isConnected) void observerPage(root, true);
  }, REFRESH_MS);
}
