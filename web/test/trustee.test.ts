// The browser trustee's pieces without a browser (spec/trustee.md §T6):
// the sealed key store (PBKDF2 + AES-GCM, the clear fields bound), and a
// whole 2-of-3 ceremony run with the page's steps on board messages,
// whose key shares then decrypt a sum of ballots; a bad share draws a
// complaint that disqualifies its dealer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as U from '../src/crypto/index.js';
import * as KS from '../src/app/keystore.js';
import * as OPS from '../src/app/trusteeops.js';

const M = U.randomBytes(32);
const base = { manifest_hash: U.toHex(M), trustee: 2, n: 3, t: 2 };

test('key store: seals, opens, refuses a wrong passphrase and an edited header', async () => {
  const secrets: KS.Secrets = { token: 'ab'.repeat(32), x: U.toHex(U.scalarToBytes(U.randomScalar())) };
  await assert.rejects(KS.create('too short', base, secrets), /fewer than 12/);
  const { unlocked, file } = await KS.create('a long enough passphrase', base, secrets);
  assert.equal(file.kdf.iterations, KS.ITERATIONS);
  assert.ok(!JSON.stringify(file).includes(secrets.x!), 'no secret in clear');
  const text = JSON.stringify(file);
  const opened = await KS.unlock(KS.parseFile(text), 'a long enough passphrase');
  assert.deepEqual(opened.secrets, secrets);
  await assert.rejects(KS.unlock(KS.parseFile(text), 'another passphrase!!'), (e: U.UrnaError) => e.code === 'wrong_passphrase');
  // The phase is associated data: a file edited to claim another phase does not open.
  await assert.rejects(KS.unlock(KS.parseFile(JSON.stringify({ ...file, phase: 'finished' })), 'a long enough passphrase'), (e: U.UrnaError) => e.code === 'wrong_passphrase');
  // A re-seal uses a fresh IV and keeps the salt.
  const again = await KS.seal(unlocked, 'dealt', { ...secrets, sigma: '00'.repeat(32) });
  assert.notEqual(again.cipher.iv, file.cipher.iv);
  assert.equal(again.kdf.salt, file.kdf.salt);
  assert.equal((await KS.unlock(again, 'a long enough passphrase')).secrets.sigma, '00'.repeat(32));
  // Strict reading: the KDF cost is bounded before anything is derived; other files are refused.
  for (const bad of [{ ...file, kdf: { ...file.kdf, iterations: 1000 } }, { ...file, kdf: { ...file.kdf, iterations: 1e9 } }, { ...file, trustee: 4 }, { ...file, format: 'x' }])
    assert.throws(() => KS.parseFile(JSON.stringify(bad)), (e: U.UrnaError) => e.code === 'bad_key_file');
  assert.throws(() => KS.parseFile('not json'), (e: U.UrnaError) => e.code === 'bad_key_file');
});

/** The board as `GET /election/ceremony` shows it, from the payloads posted so far. */
const ceremonyJson = (payloads: string[], jointKey: string | null = null): OPS.CeremonyJson => ({
  phase: 'key_ceremony',
  n: 3,
  t: 2,
  manifest_hash: U.toHex(M),
  messages: payloads.map((payload, index) => ({ index, payload })),
  joint_key: jointKey,
  fingerprint: null,
});

function runCeremony(tamper?: (payload: string) => string) {
  const posted: string[] = [];
  const s: KS.Secrets[] = [];
  for (const i of [1, 2, 3]) {
    s[i] = OPS.init(M, 3, 2, i, 'tok');
    posted.push(s[i].round1!);
  }
  for (const i of [1, 2, 3]) {
    s[i] = OPS.deal(M, 3, 2, i, s[i], OPS.readBoard(ceremonyJson(posted)));
    assert.equal(s[i].a, undefined, 'the coefficients are dropped after dealing');
    // Dealing again posts the same message (§T1: no equivocation).
    assert.equal(OPS.deal(M, 3, 2, i, s[i], OPS.readBoard(ceremonyJson(posted))).round2, s[i].round2);
    posted.push(tamper && i === 1 ? tamper(s[i].round2!) : s[i].round2!);
  }
  for (const i of [1, 2, 3]) {
    s[i] = OPS.receive(M, 3, 2, i, s[i], OPS.readBoard(ceremonyJson(posted)));
    posted.push(...s[i].complaints!);
  }
  const board = OPS.readBoard(ceremonyJson(posted));
  const r1 = U.checkRound1({ n: 3, t: 2 }, M, board.round1);
  const out = U.resolveCeremony(r1, board.round2, board.complaints);
  const K = U.toHex(U.enc(out.jointKey));
  return { s, out, K, finished: [1, 2, 3].map((i) => (out.qualified.includes(i) ? OPS.finish(M, 3, 2, i, s[i], board, K) : null)) };
}

test('a 2-of-3 ceremony with the page’s steps: the joint key, and any two shares decrypt a sum', () => {
  const { out, K, finished } = runCeremony();
  assert.deepEqual(out.qualified, [1, 2, 3]);
  for (const f of finished) assert.equal(f!.joint_key, K);
  const key = U.decodeElement(U.fromHex(K, 32));
  const F = U.fingerprintElection(M, key);
  const sum = U.sumCiphertexts([U.encrypt(key, 3), U.encrypt(key, 4)]);
  const label = OPS.label('d1', 'question', 0);
  const partials = [finished[0]!, finished[2]!].map((f, k) => {
    const j = [1, 3][k];
    const p = U.partialDecrypt(F, j, U.decodeScalar(U.fromHex(f.s!, 32)), sum, label);
    U.verifyPartial(F, sum, label, U.decodeElement(U.fromHex(f.verification_key!, 32)), p);
    return p;
  });
  assert.equal(U.combine(2, sum, partials, 10).value, 7);
  // §R11.1 chunks: 1 ‖ j ‖ index ‖ count ‖ k ‖ k × 131 bytes, at most 65,528 bytes each.
  const chunks = OPS.partialChunks(3, Array.from({ length: 501 }, () => new Uint8Array(131)));
  assert.equal(chunks.length, 2);
  for (const c of chunks) assert.ok(c.length / 2 <= 65528);
  assert.equal(chunks[1].slice(0, 30), '01' + '0003' + '00000001' + '00000002' + '00000001');
});

test('a share that does not match its dealer’s commitments draws a complaint; the dealer is out', () => {
  // Dealer 1's share to trustee 2 is replaced by garbage (the round 2 message stays well formed).
  const { out, finished } = runCeremony((payload) => {
    const b = U.fromHex(payload);
    // version, tag, version, dealer, count, then recipient 2: u16 ‖ ephemeral 32 ‖ sealed 48
    const sealedAt = 2 + 1 + 2 + 2 + 2 + 32;
    b[sealedAt] ^= 1;
    return U.toHex(b);
  });
  assert.deepEqual(out.qualified, [2, 3]);
  assert.ok(out.faults.some((f) => f.trustee === 1 && f.fault === 'bad_share'));
  assert.equal(finished[0], null);
  assert.equal(finished[1]!.joint_key, finished[2]!.joint_key);
});
