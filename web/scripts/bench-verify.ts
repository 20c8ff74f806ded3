// Times the browser verifier (src/verify) in Node on an exported record:
//   node build.mjs --tests && node test-dist/bench-verify.mjs RECORD_DIR
// (e.g. a record made by `urna bench verify --ballots 2000 --record DIR`).
// Prints the verdict, wall and CPU seconds, and ballots per second.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { verifyRecord } from '../src/verify/verifier.js';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: bench-verify.mjs RECORD_DIR');
  process.exit(2);
}
const cp = join(dir, 'checkpoints');
const checkpointFiles = existsSync(cp) ? readdirSync(cp).map((name) => ({ name, text: readFileSync(join(cp, name), 'utf8') })) : [];
const head = { boardKey: readFileSync(join(dir, 'board-key.txt'), 'utf8'), checkpoint: readFileSync(join(dir, 'checkpoint.txt'), 'utf8'), checkpointFiles };
const bin = new Uint8Array(readFileSync(join(dir, 'entries.bin')));
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const report = verifyRecord(head, bin);
const wall = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
const cpuS = (cpu.user + cpu.system) / 1e6;
console.log(
  JSON.stringify({
    record: dir,
    verdict: report.verdict,
    failed: report.failedChecks,
    entries: report.entries,
    ballots: report.ballots,
    wall_s: +wall.toFixed(2),
    cpu_s: +cpuS.toFixed(2),
    ballots_per_s_wall: +(report.ballots / wall).toFixed(1),
    ballots_per_s_cpu: +(report.ballots / cpuS).toFixed(1),
    node: process.version,
  }),
);
process.exit(report.verdict === 'valid' ? 0 : 1);
