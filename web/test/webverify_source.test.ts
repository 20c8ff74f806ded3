// The browser verifier's board source (board.md §B8): tile paths and entry
// bundles, on the examples of §B8.1 and on the valid record's entries.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { bundlePath, splitBundle, tileIndexPath } from '../src/verify/source.js';
import { splitEntries, verifyRecord } from '../src/verify/verifier.js';
import { readHead } from './webverify_common.js';

test('source: tile indices as in board.md §B8.1', () => {
  assert.equal(tileIndexPath(1234067), 'x001/x234/067');
  assert.equal(tileIndexPath(5), '005');
  assert.equal(tileIndexPath(1000), 'x001/000');
  assert.equal(tileIndexPath(0), '000');
  assert.equal(bundlePath(0, 26), 'tile/entries/000.p/26');
  assert.equal(bundlePath(3, 256), 'tile/entries/003');
});

test('source: an entry bundle (u16 length ‖ entry)* splits into the entries, and its width is checked', () => {
  const dir = new URL('../../spec/test-vectors/records/valid/', import.meta.url);
  const entries = [...splitEntries(new Uint8Array(readFileSync(new URL('entries.bin', dir))))];
  const parts: number[] = [];
  for (const e of entries) parts.push(e.length >> 8, e.length & 255, ...e);
  const bundle = Uint8Array.from(parts);
  const back = splitBundle(bundle, entries.length);
  assert.deepEqual(back.map((e) => Buffer.from(e).toString('hex')), entries.map((e) => Buffer.from(e).toString('hex')));
  assert.throws(() => splitBundle(bundle, entries.length + 1), /bad_bundle|entries where/);
  assert.throws(() => splitBundle(bundle.subarray(0, bundle.length - 1), entries.length), /ends inside an entry/);
  // The entries as a bundle gives the record's verdict.
  let bin: number[] = [];
  for (const e of back) bin.push(0, 0, e.length >> 8, e.length & 255, ...e);
  assert.equal(verifyRecord(readHead(dir), Uint8Array.from(bin)).verdict, 'valid');
});
