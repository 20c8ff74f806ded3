// The board side of the client (spec/board.md) against the exported
// election records in spec/test-vectors/records/ (made by the Rust board):
// signed checkpoints, leaf hashes, the tree root, inclusion and consistency
// proofs, receipts; and ballots decoded strictly from the board.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import * as U from '../src/crypto/index.js';

const RECORDS = new URL('../../spec/test-vectors/records/', import.meta.url);

function readRecord(name: string) {
  const dir = new URL(`${name}/`, RECORDS);
  const key = readFileSync(new URL('board-key.txt', dir), 'utf8').trim();
  const checkpoint = readFileSync(new URL('checkpoint.txt', dir), 'utf8');
  const bin = readFileSync(new URL('entries.bin', dir));
  const entries: Uint8Array[] = [];
  for (let o = 0; o < bin.length; ) {
    const len = bin.readUInt32BE(o);
    entries.push(new Uint8Array(bin.subarray(o + 4, o + 4 + len)));
    o += 4 + len;
  }
  return { dir, key, checkpoint, entries };
}

const records = readdirSync(RECORDS, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);

test('records: every final checkpoint verifies and commits to entries.bin', () => {
  assert.ok(records.includes('valid'));
  const expected = JSON.parse(readFileSync(new URL('expected.json', RECORDS), 'utf8'));
  for (const name of records) {
    const r = readRecord(name);
    const key = U.parseVerifierKey(r.key);
    const cp = U.verifyCheckpointNote(r.checkpoint, key);
    const leaves = r.entries.map(U.leafHash);
    const matches = cp.size === BigInt(r.entries.length) && U.toHex(U.treeHash(leaves)) === U.toHex(cp.root);
    const shouldFail = (expected[name]?.failed_checks ?? []).includes('checkpoint.root');
    assert.equal(matches, !shouldFail, name);
    for (const e of r.entries) U.parseEnvelope(e);
  }
});

test('records/valid: inclusion of every entry, receipts for every ballot, ballots decode strictly', () => {
  const r = readRecord('valid');
  const key = U.parseVerifierKey(r.key);
  const cp = U.verifyCheckpointNote(r.checkpoint, key);
  const leaves = r.entries.map(U.leafHash);
  let ballots = 0;
  r.entries.forEach((e, i) => {
    const proof = U.inclusionPath(i, leaves);
    assert.ok(U.verifyInclusion(leaves[i], i, cp.size, proof, cp.root));
    const { kind, payload } = U.parseEnvelope(e);
    if (kind === U.KIND_BALLOT) {
      ballots++;
      const b = U.decodeBallot(payload);
      assert.equal(U.toHex(b.bytes), U.toHex(payload));
      const receipt: U.ReceiptJson = {
        tracking: U.toHex(U.trackingCode(payload)),
        kind: 'ballot',
        index: i,
        leaf_hash: U.toHex(leaves[i]),
        tree_size: Number(cp.size),
        inclusion_proof: proof.map(U.toHex),
        checkpoint: r.checkpoint,
      };
      U.verifyReceipt(receipt, key, U.envelope(U.KIND_BALLOT, payload));
      // Tampering is caught.
      assert.throws(() => U.verifyReceipt({ ...receipt, index: (i + 1) % r.entries.length }, key, U.envelope(U.KIND_BALLOT, payload)));
      const other = U.concat(payload.subarray(0, payload.length - 1), Uint8Array.of(payload[payload.length - 1] ^ 1));
      assert.throws(() => U.verifyReceipt(receipt, key, U.envelope(U.KIND_BALLOT, other)), /leaf/);
      if (proof.length > 0) {
        const bad = proof.map((h) => U.toHex(h));
        bad[0] = U.toHex(U.nodeHash(proof[0], proof[0]));
        assert.throws(() => U.verifyReceipt({ ...receipt, inclusion_proof: bad }, key, U.envelope(U.KIND_BALLOT, payload)), /inclusion/);
      }
    }
  });
  assert.ok(ballots > 0);
});

test('checkpoint notes: a changed byte, another key, a missing signature are refused', () => {
  const r = readRecord('valid');
  const key = U.parseVerifierKey(r.key);
  const changed = r.checkpoint.replace(/\n(\d+)\n/, (_m, n) => `\n${Number(n) + 1}\n`);
  assert.throws(() => U.verifyCheckpointNote(changed, key), (e: any) => e.code === 'bad_signature');
  // The same key under another name has another key id: refused.
  assert.throws(() => U.parseVerifierKey(r.key.replace(/^[^+]+/, 'urna.example/other')), /key id/);
  const sig = r.checkpoint.split('\n\n')[1];
  const flipped = r.checkpoint.replace(sig, sig.replace(/[A-Za-z](?=[^—]*$)/, (ch) => (ch === 'A' ? 'B' : 'A')));
  assert.throws(() => U.verifyCheckpointNote(flipped, key));
  assert.throws(() => U.verifyCheckpointNote(r.checkpoint.split('\n\n')[0] + '\n', key));
});

test('consistency proofs between every pair of sizes of a 40-leaf tree, and inclusion for every leaf', () => {
  const leaves = Array.from({ length: 40 }, (_, i) => U.leafHash(Uint8Array.of(i)));
  const roots = Array.from({ length: 41 }, (_, n) => U.treeHash(leaves.slice(0, n)));
  const subproof = (m: number, ls: Uint8Array[], b: boolean): Uint8Array[] => {
    const n = ls.length;
    if (m === n) return b ? [] : [U.treeHash(ls)];
    let k = 1;
    while (k * 2 < n) k *= 2;
    return m <= k ? [...subproof(m, ls.slice(0, k), b), U.treeHash(ls.slice(k))] : [...subproof(m - k, ls.slice(k), false), U.treeHash(ls.slice(0, k))];
  };
  for (let n = 1; n <= 40; n++) {
    for (let m = 0; m < n; m++) {
      const p = U.inclusionPath(m, leaves.slice(0, n));
      assert.ok(U.verifyInclusion(leaves[m], m, n, p, roots[n]), `incl ${m}/${n}`);
      assert.ok(!U.verifyInclusion(leaves[(m + 1) % n], m, n, p, roots[n]) || n === 1);
    }
    for (let m = 1; m <= n; m++) {
      const p = m === n ? [] : subproof(m, leaves.slice(0, n), true);
      assert.ok(U.verifyConsistency(m, n, p, roots[m], roots[n]), `cons ${m}/${n}`);
      if (m < n) assert.ok(!U.verifyConsistency(m, n, p, roots[m], roots[m]), `cons bad ${m}/${n}`);
    }
  }
  assert.ok(U.verifyConsistency(0, 5, [], U.EMPTY_ROOT, roots[5]));
});

test('records/rewritten-history: an earlier checkpoint that the final entries do not extend is caught', () => {
  const name = 'rewritten-history';
  const r = readRecord(name);
  const key = U.parseVerifierKey(r.key);
  const dir = new URL('checkpoints/', r.dir);
  if (!existsSync(dir)) return;
  const leaves = r.entries.map(U.leafHash);
  let mismatches = 0;
  for (const f of readdirSync(dir)) {
    const cp = U.verifyCheckpointNote(readFileSync(new URL(f, dir), 'utf8'), key);
    if (U.toHex(U.treeHash(leaves.slice(0, Number(cp.size)))) !== U.toHex(cp.root)) mismatches++;
  }
  assert.ok(mismatches > 0);
});

test('base64 is canonical only', () => {
  assert.equal(U.toHex(U.base64Decode('AAE=')), '0001');
  assert.throws(() => U.base64Decode('AAF='));
  assert.throws(() => U.base64Decode('AAE'));
  assert.throws(() => U.base64Decode('AA E='));
});
