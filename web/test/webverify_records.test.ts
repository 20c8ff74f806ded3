// The browser verifier (src/verify) against every record in
// spec/test-vectors/records/: the same verdict and the same failed check
// names, in report order, as `urna verify` (expected.json, written with the
// records). Data-driven: every folder with an entries.bin is a record; other
// files are ignored, as export.md §X1 asks of verifiers. A record whose
// expectation has `observers` is verified trusting those keys (§X3.1).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { verifyRecord } from '../src/verify/verifier.js';
import { readHead } from './webverify_common.js';

// URNA_RECORDS=DIR runs the same comparison on another records folder.
const RECORDS = process.env.URNA_RECORDS ? pathToFileURL(process.env.URNA_RECORDS.replace(/\/?$/, '/')) : new URL('../../spec/test-vectors/records/', import.meta.url);

const expected: Record<string, { failed_checks: string[]; observers?: string[] }> = JSON.parse(readFileSync(new URL('expected.json', RECORDS), 'utf8'));
const records = readdirSync(RECORDS, { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(new URL(`${d.name}/entries.bin`, RECORDS)))
  .map((d) => d.name)
  .sort();

test('records: every record folder has an expectation and the valid one is there', () => {
  assert.ok(records.includes('valid'));
  for (const name of records) assert.ok(expected[name], `${name} has no entry in expected.json`);
});

let ballots = 0;
let seconds = 0;

for (const name of records) {
  test(`records: ${name} gives the verdict and failed checks of urna verify`, () => {
    const dir = new URL(`${name}/`, RECORDS);
    const t0 = performance.now();
    // Trusted observer keys (export.md §X3.1), when the record names them.
    const head = { ...readHead(dir), observers: expected[name]?.observers ?? [] };
    const report = verifyRecord(head, new Uint8Array(readFileSync(new URL('entries.bin', dir))));
    seconds += (performance.now() - t0) / 1000;
    ballots += report.ballots;
    const want = expected[name]?.failed_checks ?? [];
    const detail = report.checks
      .filter((c) => c.failed)
      .map((c) => `${c.name}: ${c.failures.map((f) => `[${f.entry ?? '-'}] ${f.message}`).join('; ')}`)
      .join('\n');
    assert.deepEqual(report.failedChecks, want, `${name}\n${detail}`);
    assert.equal(report.verdict, want.length ? 'invalid' : 'valid');
  });
}

test('records: a truncated entries.bin or a bad board key makes the record unusable', () => {
  const dir = new URL('valid/', RECORDS);
  const head = readHead(dir);
  const bin = new Uint8Array(readFileSync(new URL('entries.bin', dir)));
  assert.equal(verifyRecord(head, bin.subarray(0, bin.length - 3)).verdict, 'unusable');
  assert.equal(verifyRecord({ ...head, boardKey: head.boardKey.trimEnd() + '\r\n' }, bin).verdict, 'unusable');
  assert.equal(verifyRecord({ ...head, boardKey: head.boardKey + '\n' }, bin).verdict, 'unusable');
});

test('records: speed (informative; BENCHMARKS.md has the figure on a large record)', () => {
  assert.ok(ballots > 0);
  console.log(`node: ${ballots} ballots in ${records.length} whole records verified in ${seconds.toFixed(2)} s (${(ballots / seconds).toFixed(1)} ballots/s, ceremony and decryption included)`);
});
