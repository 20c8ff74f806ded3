// The verifier's Web Worker: the page stays responsive while every ballot
// is checked. Messages in: `{ kind: 'board', base }` or `{ kind: 'record',
// head, entries }`; out: `progress` (at most every 200 ms) and `done` with
// the report (spec/export.md §X4).
import { why } from './report.js';
import { boardEntries, boardHead } from './source.js';
import { RecordHead, Verifier, splitEntries, unusableReport } from './verifier.js';

export type WorkerRequest = { kind: 'board'; base: string } | { kind: 'record'; head: RecordHead; entries: ArrayBuffer };
export interface Progress {
  type: 'progress';
  entries: number;
  total: number;
  ballots: number;
  seconds: number;
}

const post = (m: unknown): void => (globalThis as unknown as { postMessage(m: unknown): void }).postMessage(m);

async function run(req: WorkerRequest): Promise<void> {
  const t0 = performance.now();
  let head: RecordHead;
  let total: number;
  let entries: AsyncIterable<Uint8Array> | Iterable<Uint8Array>;
  if (req.kind === 'board') {
    const b = await boardHead(req.base);
    head = b.head;
    total = b.size;
    entries = boardEntries(req.base, total);
  } else {
    head = req.head;
    const bin = new Uint8Array(req.entries);
    total = 0;
    try {
      for (const _ of splitEntries(bin)) total++;
    } catch (e) {
      post({ type: 'done', report: unusableReport(`entries.bin: ${why(e)}`) });
      return;
    }
    entries = splitEntries(bin);
  }
  let v: Verifier;
  try {
    v = new Verifier(head);
  } catch (e) {
    post({ type: 'done', report: unusableReport(why(e)) });
    return;
  }
  let last = 0;
  const progress = (): void => {
    const p = v.progress();
    post({ type: 'progress', entries: p.entries, total, ballots: p.ballots, seconds: (performance.now() - t0) / 1000 } satisfies Progress);
  };
  for await (const e of entries) {
    v.entry(e);
    if (performance.now() - last > 200) {
      last = performance.now();
      progress();
    }
  }
  const report = v.finish();
  progress();
  post({ type: 'done', report, seconds: (performance.now() - t0) / 1000, boardKey: head.boardKey.trim() });
}

globalThis.addEventListener('message', (ev: Event) => {
  run((ev as MessageEvent<WorkerRequest>).data).catch((e) => post({ type: 'error', message: why(e) }));
});
