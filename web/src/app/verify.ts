// "Verify this election": the whole-election verifier (src/verify) run in a
// Web Worker on the board's tiles, or on an exported record folder, with a
// progress bar; the verdict and every check (spec/export.md §X4) in plain
// words, technical details behind a disclosure.
import type { CheckResult, Report } from '../verify/report.js';
import type { Progress, WorkerRequest } from '../verify/worker.js';
import type { RecordHead } from '../verify/verifier.js';
import { clear, focusHeading, h } from './dom.js';
import { num, t } from './i18n.js';

let worker: Worker | null = null;

function stop(): void {
  worker?.terminate();
  worker = null;
}

function rate(ballots: number, seconds: number): string {
  return seconds > 0 ? num(Math.round(ballots / seconds)) : '—';
}

function checkItem(c: CheckResult): HTMLElement {
  const status = c.failed > 0 ? 'failed' : c.checked > 0 ? 'passed' : 'none';
  return h('li', { class: `check ${status === 'failed' ? 'error' : status === 'passed' ? 'ok' : ''}`, 'data-check': c.name, 'data-status': status },
    h('strong', {}, t(`verify.check.${c.name}`)),
    ' — ',
    h('span', {}, t(`verify.status.${status}`)),
    h('details', {},
      h('summary', {}, t('verify.details')),
      h('p', {}, h('code', {}, c.name), ' · ', t('verify.counts', { checked: c.checked, failed: c.failed })),
      c.notes.length > 0 && h('ul', {}, c.notes.map((n) => h('li', {}, n))),
      c.failures.length > 0 &&
        h('ul', {}, c.failures.map((f) => h('li', {}, f.entry === null ? f.message : t('verify.atEntry', { index: f.entry, message: f.message })))),
    ),
  );
}

function showReport(out: HTMLElement, report: Report, seconds: number, boardKey?: string): void {
  const verdictClass = report.verdict === 'valid' ? 'ok' : 'error';
  clear(out,
    h('h2', {}, t('verify.result')),
    h('p', { class: `verdict ${verdictClass}`, 'data-testid': 'verify-verdict', 'data-verdict': report.verdict, 'data-ballots': report.ballots, 'data-seconds': seconds, role: report.verdict === 'valid' ? undefined : 'alert' },
      t(`verify.verdict.${report.verdict}`)),
    report.unusable && h('p', { class: 'error' }, h('code', {}, report.unusable)),
    boardKey && h('p', { class: 'note' }, t('verify.boardKey'), ' ', h('code', { 'data-testid': 'verify-board-key' }, boardKey)),
    h('p', {}, t('verify.summary', { entries: report.entries, ballots: report.ballots, seconds: seconds.toFixed(1), rate: rate(report.ballots, seconds) })),
    report.failedChecks.length > 0 &&
      h('p', { 'data-testid': 'verify-failed', 'data-checks': report.failedChecks.join(' ') }, t('verify.failedList'), ' ', report.failedChecks.flatMap((c, i) => [i ? ', ' : '', h('code', {}, c)])),
    h('ul', { class: 'checks', 'data-testid': 'verify-checks' }, report.checks.map(checkItem)),
  );
}

function start(root: HTMLElement, req: WorkerRequest, transfer: Transferable[] = []): void {
  stop();
  const status = root.querySelector('[data-testid="verify-status"]') as HTMLElement;
  const out = root.querySelector('[data-testid="verify-result"]') as HTMLElement;
  const bar = h('progress', { max: '1', value: '0', 'aria-label': t('verify.progressLabel') }) as HTMLProgressElement;
  const text = h('p', { 'data-testid': 'verify-progress' }, t('verify.starting'));
  clear(status, bar, text);
  clear(out);
  worker = new Worker('/web/verify-worker.js', { type: 'module' });
  worker.onmessage = (ev: MessageEvent) => {
    const m = ev.data as Progress | { type: 'done'; report: Report; seconds?: number; boardKey?: string } | { type: 'error'; message: string };
    if (m.type === 'progress') {
      bar.max = Math.max(1, m.total);
      bar.value = m.entries;
      text.textContent = t('verify.progress', { entries: m.entries, total: m.total, ballots: m.ballots, rate: rate(m.ballots, m.seconds) });
    } else if (m.type === 'done') {
      bar.value = bar.max;
      stop();
      showReport(out, m.report, m.seconds ?? 0, m.boardKey);
    } else {
      stop();
      clear(out, h('p', { class: 'error', role: 'alert', 'data-testid': 'verify-verdict', 'data-verdict': 'error' }, t('verify.error', { message: m.message })));
    }
  };
  worker.onerror = (e) => {
    stop();
    clear(out, h('p', { class: 'error', role: 'alert', 'data-testid': 'verify-verdict', 'data-verdict': 'error' }, t('verify.error', { message: e.message })));
  };
  worker.postMessage(req, transfer);
}

/** An exported record folder (export.md §X1) chosen with the folder picker. */
async function readFolder(files: FileList): Promise<{ head: RecordHead; entries: ArrayBuffer }> {
  const rel = (f: File) => (f.webkitRelativePath || f.name).split('/');
  const list = [...files];
  // The record's own files sit at the shallowest level; checkpoints/ below them.
  const depth = Math.min(...list.map((f) => rel(f).length));
  const at = (name: string) => list.find((f) => rel(f).length === depth && rel(f)[depth - 1] === name);
  const key = at('board-key.txt');
  const cp = at('checkpoint.txt');
  const bin = at('entries.bin');
  if (!key || !cp || !bin) throw new Error(t('verify.folderMissing'));
  const checkpointFiles = await Promise.all(
    list
      .filter((f) => rel(f).length === depth + 1 && rel(f)[depth - 1] === 'checkpoints')
      .map(async (f) => ({ name: rel(f)[depth], text: await f.text() })),
  );
  return { head: { boardKey: await key.text(), checkpoint: await cp.text(), checkpointFiles }, entries: await bin.arrayBuffer() };
}

export function verifyPage(root: HTMLElement): void {
  stop();
  // Leaving the page ends the verification.
  window.addEventListener('hashchange', stop, { once: true });
  const folder = h('input', { type: 'file', id: 'verify-folder', webkitdirectory: true, multiple: true, 'data-testid': 'verify-folder' }) as HTMLInputElement;
  folder.addEventListener('change', () => {
    if (!folder.files?.length) return;
    readFolder(folder.files).then(
      (r) => start(root, { kind: 'record', head: r.head, entries: r.entries }, [r.entries]),
      (e) => clear(root.querySelector('[data-testid="verify-result"]') as HTMLElement, h('p', { class: 'error', role: 'alert' }, String((e as Error).message))),
    );
  });
  clear(root,
    h('h1', {}, t('verify.heading')),
    h('p', {}, t('verify.text')),
    h('p', {}, h('button', { type: 'button', 'data-testid': 'verify-start', onclick: () => start(root, { kind: 'board', base: location.origin }) }, t('verify.start'))),
    h('p', {}, h('label', { for: 'verify-folder' }, t('verify.folder')), ' ', folder),
    h('p', { class: 'note' }, t('verify.folderHint')),
    h('div', { 'aria-live': 'polite', 'data-testid': 'verify-status' }),
    h('div', { 'data-testid': 'verify-result' }),
  );
  focusHeading(root);
}
