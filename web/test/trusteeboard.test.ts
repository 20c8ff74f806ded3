// The trustee page's board check (spec/trustee.md §T1.1, §T6.3;
// web/src/app/boardcheck.ts) on the spec's valid and tampered election
// records (spec/test-vectors/records/, expected.json): it must refuse
// exactly the records that fail a check the tally depends on (the §T1.1
// list), naming one of those failed checks, and on the others its
// recomputed sums must be the board's tally.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { sha256 } from '@noble/hashes/sha2.js';
import * as U from '../src/crypto/index.js';
import * as B from '../src/app/boardcheck.js';

const RECORDS = new URL('../../spec/test-vectors/records/', import.meta.url);
const EXPECTED: Record<string, { failed_checks: string[] }> = JSON.parse(readFileSync(new URL('expected.json', RECORDS), 'utf8'));
/** spec/trustee.md §T1.1 item 1: the checks the sums depend on. */
const T11 = new Set(['record.files', 'checkpoint.signature', 'checkpoint.root', 'checkpoint.consistency', 'entries.envelope', 'board.order', 'manifest', 'key_ceremony', 'credential_lists', 'voting_opened', 'ballot.window', 'ballot.decode', 'ballot.header', 'ballot.credential', 'ballot.replay', 'ballot.proofs', 'revote', 'audited_ballot', 'voting_closed', 'reconciliation', 'tally']);
/**
 * Their fault is in the export's `checkpoints/` files (an earlier checkpoint
 * handed out), which a live board does not serve: the page meets that fault
 * through the checkpoint this device saw before (app/seen.ts), not here.
 */
const FILES_ONLY = new Set(['checkpoint-leading-zero', 'rewritten-history']);

function readRecord(name: string) {
  const dir = new URL(`${name}/`, RECORDS);
  const key = U.parseVerifierKey(readFileSync(new URL('board-key.txt', dir), 'utf8').trim());
  const cp = U.verifyCheckpointNote(readFileSync(new URL('checkpoint.txt', dir), 'utf8'), key);
  const bin = readFileSync(new URL('entries.bin', dir));
  const raw: Uint8Array[] = [];
  for (let o = 0; o < bin.length; ) {
    const len = bin.readUInt32BE(o);
    raw.push(new Uint8Array(bin.subarray(o + 4, o + 4 + len)));
    o += 4 + len;
  }
  return { key, cp, raw };
}

const envelopes = (raw: Uint8Array[]): B.Entry[] => raw.flatMap((b) => {
  try {
    return [U.parseEnvelope(b)];
  } catch {
    return [];
  }
});

/**
 * What the page takes from the server (districts in manifest order, ballot
 * styles), here from the honest record: the districts and contests of its
 * tally, the shapes of its ballots.
 */
function stylesOfValid(): Pick<B.Election, 'districts' | 'styles'> {
  const entries = envelopes(readRecord('valid').raw);
  const shapes = new Map<string, U.ContestShape[]>();
  for (const e of entries.filter((x) => x.kind === B.KIND.ballot)) {
    const b = U.decodeBallot(e.payload);
    const d = new TextDecoder().decode(b.header.subarray(34));
    if (!shapes.has(d)) shapes.set(d, b.contests.map((c) => c.shape));
  }
  const tally = entries.filter((x) => x.kind === B.KIND.admin && x.payload[1] === 1).map((x) => x.payload);
  const districts: string[] = [];
  const styles = new Map<string, B.Style>();
  for (const chunk of tally) {
    const r = new U.Reader(chunk.subarray(10));
    const k = r.u32();
    for (let i = 0; i < k; i++) {
      const d = new TextDecoder().decode(r.bytes(r.u8()));
      const c = new TextDecoder().decode(r.bytes(r.u8()));
      r.u64();
      const n = r.u16();
      r.bytes(64 * n);
      if (!styles.has(d)) {
        districts.push(d);
        styles.set(d, { district: d, contests: [] });
      }
      const style = styles.get(d)!;
      style.contests.push({ id: c, shape: shapes.get(d)?.[style.contests.length] ?? { options: n, option_max: 1, min: 0, max: 1 } });
    }
  }
  return { districts, styles };
}

const STYLES = stylesOfValid();

function election(raw: Uint8Array[]): B.Election {
  const entries = envelopes(raw);
  const M = sha256(B.manifestBytes(entries));
  const toml = B.manifestText(entries, M);
  const joint = entries.filter((x) => x.kind === B.KIND.ceremony && x.payload[1] === 4).pop()!;
  return { M, key: U.decodeElement(joint.payload.subarray(2, 34)), n: 3, t: 2, id: B.electionId(toml), toml, ...STYLES };
}

test('the honest record: the recomputed sums are the board’s tally', () => {
  const { key, cp, raw } = readRecord('valid');
  const out = B.checkBoard(election(raw), raw, cp, key);
  // 6 ballots, one re-vote (the last counts), one annulled: 4 counted.
  assert.equal(out.ballotsOnBoard, 6);
  assert.equal(out.counted, 4);
  assert.ok(out.records.length >= 3);
});

for (const name of Object.keys(EXPECTED)) {
  if (!existsSync(new URL(`${name}/entries.bin`, RECORDS)) || FILES_ONLY.has(name)) continue;
  const failed = EXPECTED[name].failed_checks;
  const refuses = failed.some((c) => T11.has(c));
  test(`record ${name}: ${refuses ? `refused (${failed.join(', ')})` : 'the tally is decrypted'}`, () => {
    const { key, cp, raw } = readRecord(name);
    let e: B.Election;
    try {
      e = election(raw);
    } catch (err) {
      assert.ok(refuses && failed.includes((err as U.UrnaError).code), `${name}: ${(err as Error).message}`);
      return;
    }
    if (!refuses) {
      assert.doesNotThrow(() => B.checkBoard(e, raw, cp, key), name);
      return;
    }
    assert.throws(
      () => B.checkBoard(e, raw, cp, key),
      (err: U.UrnaError) => failed.includes(err.code) || assert.fail(`${name}: refused as ${err.code} (${err.message}); expected one of ${failed.join(', ')}`),
    );
  });
}

test('a tally that is one voter’s ciphertexts is refused (issue 12 item 1, in the browser)', () => {
  const { key, cp, raw } = readRecord('valid');
  const e = election(raw);
  const entries = envelopes(raw);
  const at = entries.findIndex((x) => x.kind === B.KIND.admin && x.payload[1] === 1);
  // Replace the first record's sums by the first ballot's ciphertexts: same shape, one voter's vote.
  const ballot = U.decodeBallot(entries.find((x) => x.kind === B.KIND.ballot)!.payload);
  const tally = Uint8Array.from(entries[at].payload);
  const r = new U.Reader(tally.subarray(14));
  r.bytes(r.u8());
  r.bytes(r.u8());
  r.u64();
  const n = r.u16();
  const start = 14 + r.offset;
  ballot.contests[0].ciphertexts.slice(0, n).forEach((c, o) => tally.set(U.encodeCiphertext(c), start + 64 * o));
  const forged = raw.slice();
  forged[at] = U.envelope(B.KIND.admin, tally);
  // Even with a checkpoint over the forged board (a board key holder's fork), the sums do not match.
  const fork = { ...cp, root: U.treeHash(forged.map(U.leafHash)) };
  assert.throws(() => B.checkBoard(e, forged, fork, key), (err: U.UrnaError) => err.code === 'tally');
  // And against the real checkpoint, the root does not.
  assert.throws(() => B.checkBoard(e, forged, cp, key), (err: U.UrnaError) => err.code === 'checkpoint.root');
});
