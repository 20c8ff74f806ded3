// Every JSON file in spec/test-vectors/ against the TypeScript client crypto
// (spec/crypto.md §10), dkg.json included (the public side of the key
// ceremony, which the board explorer re-checks). records/ are whole
// election records for `urna verify`, not primitive vectors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import * as U from '../src/crypto/index.js';

const DIR = new URL('../../spec/test-vectors/', import.meta.url);
type Case = Record<string, any> & { name: string; valid: boolean; error?: string; type?: string };
const load = (f: string): { cases: Case[]; [k: string]: any } => JSON.parse(readFileSync(new URL(f, DIR), 'utf8'));
const hx = (s: string) => U.fromHex(s);
const sc = (s: string) => U.decodeScalar(hx(s));
const el = (s: string, id = true) => U.decodeElement(hx(s), id);
const ct = (c: { alpha: string; beta: string }): U.Ciphertext => ({ alpha: el(c.alpha), beta: el(c.beta) });

/** Runs `f`; a valid case must not throw, an invalid one must throw its error code. */
function expect(c: Case, f: () => void): void {
  if (c.valid) {
    f();
    return;
  }
  assert.throws(f, (e: any) => {
    assert.equal(e.code, c.error, `${c.name}: ${e.message}`);
    return true;
  });
}

function each(file: string, run: (c: Case, top: any) => void): void {
  const d = load(file);
  test(file, () => {
    assert.ok(d.cases.length > 0);
    for (const c of d.cases) {
      try {
        run(c, d);
      } catch (e: any) {
        e.message = `${file} / ${c.name}: ${e.message}`;
        throw e;
      }
    }
  });
}

test('every vector file is covered', () => {
  const files = readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();
  assert.deepEqual(files, [
    'ballot.json', 'dkg.json', 'dleq.json', 'elgamal.json', 'encoding.json', 'generators.json',
    'range.json', 'ristretto255.json', 'schnorr.json', 'signature.json', 'threshold.json', 'transcript.json',
  ]);
});

each('ristretto255.json', (c) => {
  if (c.type === 'multiple') assert.equal(U.toHex(U.mul(U.G, BigInt(c.scalar)).toBytes()), c.encoding);
  else if (c.type === 'decode') expect(c, () => U.decodeElement(hx(c.encoding)));
  else if (c.type === 'derive') assert.equal(U.toHex(U.fromUniformBytes(hx(c.uniform_bytes)).toBytes()), c.encoding);
  else assert.fail(`unknown type ${c.type}`);
});

const U64_EXACT = BigInt(/"u64": (\d+)/.exec(readFileSync(new URL('encoding.json', DIR), 'utf8'))![1]);
each('encoding.json', (c) => {
  switch (c.type) {
    case 'scalar':
      expect(c, () => assert.equal(U.toHex(U.scalarToBytes(U.decodeScalar(hx(c.hex)))), c.hex));
      break;
    case 'element':
      expect(c, () => assert.equal(U.toHex(U.decodeElement(hx(c.hex), c.identity_allowed).toBytes()), c.hex));
      break;
    case 'element_json':
      expect(c, () => U.decodeElement(U.fromHex(c.text, 32), c.identity_allowed));
      break;
    case 'integers':
      expect(c, () => {
        const r = new U.Reader(hx(c.hex));
        assert.equal(r.u8(), c.u8);
        assert.equal(r.u16(), c.u16);
        assert.equal(r.u32(), c.u32);
        // JSON numbers above 2^53 lose precision in JSON.parse: compare with the file's digits.
        assert.equal(r.u64(), U64_EXACT);
        assert.equal(U.toHex(r.bytes32(1024)), c.bytes32);
        r.end();
        assert.equal(U.toHex(U.concat(U.u8(c.u8), U.u16(c.u16), U.u32(c.u32), U.u64(U64_EXACT), U.u32(c.bytes32.length / 2), hx(c.bytes32))), c.hex);
      });
      break;
    default:
      assert.fail(`unknown type ${c.type}`);
  }
});

each('generators.json', (c) => {
  if (c.type === 'base') assert.equal(U.toHex(U.G.toBytes()), c.element);
  else if (c.type === 'derived') {
    assert.equal(U.toHex(U.generatorTranscript(c.label)), c.transcript);
    assert.equal(U.toHex(U.digest64(U.generatorTranscript(c.label))), c.sha512);
    assert.equal(U.toHex(U.deriveGenerator(c.label).toBytes()), c.element);
    if (c.label === 'urna/v1/elgamal/message') assert.equal(U.toHex(U.H.toBytes()), c.element);
  } else assert.fail(`unknown type ${c.type}`);
});

each('transcript.json', (c) => {
  if (c.type === 'transcript') {
    const t = U.frame(c.domain, c.fields.map((f: any) => [f.label, hx(f.data)] as U.Field));
    assert.equal(U.toHex(t), c.framed);
    assert.equal(U.toHex(U.digest64(t)), c.sha512);
    assert.equal(U.toHex(U.scalarToBytes(U.challenge(t))), c.challenge);
    assert.equal(U.toHex(U.digest32(t)), c.digest32);
  } else if (c.type === 'fingerprint_ceremony') {
    assert.equal(U.toHex(U.frame('urna/v1/fingerprint/ceremony', [['manifest_hash', hx(c.manifest_hash)]])), c.framed);
    assert.equal(U.toHex(U.fingerprintCeremony(hx(c.manifest_hash))), c.fingerprint);
  } else if (c.type === 'fingerprint_election') {
    assert.equal(
      U.toHex(U.frame('urna/v1/fingerprint/election', [['manifest_hash', hx(c.manifest_hash)], ['joint_key', hx(c.joint_key)]])),
      c.framed,
    );
    assert.equal(U.toHex(U.fingerprintElection(hx(c.manifest_hash), el(c.joint_key, false))), c.fingerprint);
  } else assert.fail(`unknown type ${c.type}`);
});

function checkElection(top: any): void {
  const e = top.election;
  if (!e) return;
  const K = U.mul(U.G, sc(e.secret_key));
  assert.equal(U.toHex(K.toBytes()), e.joint_key);
  assert.equal(U.toHex(U.fingerprintElection(hx(e.manifest_hash), K)), e.fingerprint);
}

each('elgamal.json', (c, top) => {
  checkElection(top);
  switch (c.type) {
    case 'keypair':
      assert.equal(U.toHex(U.mul(U.G, sc(c.secret_key)).toBytes()), c.public_key);
      break;
    case 'encrypt': {
      const K = U.checkPublicKey(el(c.public_key, false));
      const x = U.encrypt(K, c.message, sc(c.nonce));
      assert.equal(U.toHex(x.alpha.toBytes()), c.ciphertext.alpha);
      assert.equal(U.toHex(x.beta.toBytes()), c.ciphertext.beta);
      assert.equal(U.toHex(U.encodeCiphertext(x)), c.encoding);
      const M = U.decryptToElement(sc(c.secret_key), U.decodeCiphertext(hx(c.encoding)));
      assert.equal(U.toHex(M.toBytes()), c.decrypted);
      assert.equal(U.dlog(M, c.dlog_bound), c.message);
      break;
    }
    case 'sum': {
      const s = U.sumCiphertexts(c.ciphertexts.map(ct));
      assert.equal(U.toHex(s.alpha.toBytes()), c.sum.alpha);
      assert.equal(U.toHex(s.beta.toBytes()), c.sum.beta);
      const M = U.decryptToElement(sc(c.secret_key), s);
      assert.equal(U.toHex(M.toBytes()), c.decrypted);
      assert.equal(U.dlog(M, 1000), c.message);
      break;
    }
    case 'reencrypt': {
      const r = U.reencrypt(el(c.public_key, false), ct(c.ciphertext), sc(c.nonce));
      assert.equal(U.toHex(r.alpha.toBytes()), c.result.alpha);
      assert.equal(U.toHex(r.beta.toBytes()), c.result.beta);
      break;
    }
    case 'decode':
      expect(c, () => assert.equal(U.toHex(U.encodeCiphertext(U.decodeCiphertext(hx(c.encoding)))), c.encoding));
      break;
    case 'public_key':
      expect(c, () => U.checkPublicKey(el(c.public_key)));
      break;
    case 'dlog':
      expect(c, () => assert.equal(U.dlog(el(c.element), c.bound), c.log));
      break;
    default:
      assert.fail(`unknown type ${c.type}`);
  }
});

each('schnorr.json', (c, top) => {
  checkElection(top);
  const F = hx(c.fingerprint);
  const ctx = hx(c.context);
  if (c.valid) {
    const x = sc(c.secret);
    assert.equal(U.toHex(U.mul(U.G, x).toBytes()), c.public);
    const p = U.proveSchnorr(F, ctx, x, sc(c.nonce));
    assert.equal(U.toHex(U.encodeSchnorr(p)), c.proof_encoding);
    assert.equal(U.toHex(U.scalarToBytes(U.schnorrChallenge(F, ctx, p.commitment.add(U.Point.ZERO), p.commitment))).length, 64);
    assert.equal(U.toHex(U.scalarToBytes(U.schnorrChallenge(F, ctx, el(c.public), p.commitment))), c.challenge);
  }
  expect(c, () => U.verifySchnorr(F, ctx, el(c.public), U.decodeSchnorr(hx(c.proof_encoding))));
});

each('dleq.json', (c, top) => {
  checkElection(top);
  const F = hx(c.fingerprint);
  const ctx = hx(c.context);
  if (c.valid) {
    const p = U.proveDleq(F, ctx, el(c.base), sc(c.secret), sc(c.nonce));
    assert.equal(U.toHex(U.encodeDleq(p)), c.proof_encoding);
    assert.equal(
      U.toHex(U.scalarToBytes(U.dleqChallenge(F, ctx, el(c.base), el(c.public), el(c.image), p.commitmentG, p.commitmentY))),
      c.challenge,
    );
  }
  expect(c, () => U.verifyDleq(F, ctx, el(c.base), el(c.public), el(c.image), U.decodeDleq(hx(c.proof_encoding))));
});

/** Replays a proof's simulated branches (from the expected bytes) and the real nonce. */
function replay(expected: U.RangeProof, realNonce: bigint): U.RangeRandomness {
  return { simulated: (j) => ({ c: expected[j].c, z: expected[j].z }), real: () => realNonce };
}

each('range.json', (c, top) => {
  checkElection(top);
  const F = hx(c.fingerprint);
  const ctx = hx(c.context);
  if (c.valid) {
    const K = el(c.key, false);
    const summands = c.values.map((v: number, i: number) => U.encrypt(K, v, sc(c.nonces[i])));
    assert.deepEqual(summands.map(U.encodeCiphertext).map(U.toHex), c.summands.map((s: any) => s.alpha + s.beta));
    const expected = U.decodeRange(hx(c.proof_encoding), c.lo, c.hi);
    const value = c.values.reduce((a: number, v: number) => a + v, 0);
    const r = c.nonces.map(sc).reduce((a: bigint, b: bigint) => U.mod(a + b), 0n);
    assert.equal(value - c.lo, c.real_branch);
    const p = U.proveRange(F, ctx, K, summands, c.lo, c.hi, value, r, replay(expected, sc(c.real_branch_nonce)));
    assert.equal(U.toHex(U.encodeRange(p)), c.proof_encoding);
    assert.equal(U.toHex(U.scalarToBytes(U.rangeChallenge(F, ctx, K, summands, c.lo, c.hi, p))), c.challenge);
    // A fresh proof with real randomness also verifies.
    U.verifyRange(F, ctx, K, summands, c.lo, c.hi, U.proveRange(F, ctx, K, summands, c.lo, c.hi, value, r));
  }
  expect(c, () =>
    U.verifyRange(F, ctx, el(c.key), c.summands.map(ct), c.lo, c.hi, U.decodeRange(hx(c.proof_encoding), c.lo, c.hi)),
  );
});

each('signature.json', (c, top) => {
  checkElection(top);
  const F = hx(c.fingerprint);
  const msg = hx(c.message);
  if (c.valid) {
    const x = sc(c.secret);
    assert.equal(U.toHex(U.mul(U.G, x).toBytes()), c.credential);
    assert.equal(U.toHex(U.scalarToBytes(U.signatureNonce(x, hx(c.random), msg))), c.nonce);
    const s = U.sign(F, x, msg, hx(c.random));
    assert.equal(U.toHex(U.encodeSignature(s)), c.signature_encoding);
    assert.equal(U.toHex(U.scalarToBytes(U.signatureChallenge(F, el(c.credential), s.commitment, msg))), c.challenge);
  }
  expect(c, () => U.verifySignature(F, el(c.credential), msg, U.decodeSignature(hx(c.signature_encoding))));
});

each('ballot.json', (c, top) => {
  checkElection(top);
  const e: U.Election = { key: el(top.election.joint_key, false), fingerprint: hx(top.election.fingerprint) };
  if (c.type === 'verify') {
    if (c.valid) {
      const expected = U.decodeBallot(hx(c.ballot));
      assert.equal(expected.signed.length, c.signed_length);
      assert.equal(U.toHex(U.mul(U.G, sc(c.credential_secret)).toBytes()), c.credential);
      const rand: U.BallotRandomness = {
        nonce: (ci, o) => sc(c.nonces[ci][o]),
        optionProof: (ci, o) => replay(expected.contests[ci].optionProofs[o], sc(c.option_proof_nonces[ci][o])),
        sumProof: (ci) => replay(expected.contests[ci].sumProof!, sc(c.sum_proof_nonces[ci])),
        signatureRandom: () => hx(c.signature_random),
      };
      const made = U.encryptBallot(e, sc(c.credential_secret), hx(c.header), c.shapes, c.selections, rand);
      assert.equal(U.toHex(made.bytes), c.ballot, 'byte-for-byte reproduction');
      // Every option's nonce is revealed, a derived one's as −Σ r (§7.1, §7.5).
      assert.deepEqual(made.nonces.map((l) => l.map((r) => U.toHex(U.scalarToBytes(r)))), c.nonces);
      assert.equal(made.bytes.length, c.ballot.length / 2);
      // A ballot with fresh randomness verifies and audits.
      const fresh = U.encryptBallot(e, sc(c.credential_secret), hx(c.header), c.shapes, c.selections);
      U.decodeAndVerifyBallot(fresh.bytes, c.shapes, e);
      const audit = U.decodeAuditPayload(U.encodeAuditPayload(fresh.bytes, fresh.selections, fresh.nonces));
      U.verifyAudit(audit.ballot, e.key, audit.selections, audit.nonces);
      assert.deepEqual(audit.selections, c.selections);
    }
    expect(c, () => U.decodeAndVerifyBallot(hx(c.ballot), c.shapes, e));
  } else if (c.type === 'audit') {
    expect(c, () => {
      const b = U.decodeBallot(hx(c.ballot));
      const nonces = c.nonces.map((l: string[]) => l.map(sc));
      U.verifyAudit(b, e.key, c.selections, nonces);
      // The §R7 payload round-trips.
      const p = U.decodeAuditPayload(U.encodeAuditPayload(hx(c.ballot), c.selections, nonces));
      assert.deepEqual(p.selections, c.selections);
    });
  } else assert.fail(`unknown type ${c.type}`);
});

each('threshold.json', (c, top) => {
  const key = top.key;
  const F = hx(key.fingerprint);
  switch (c.type) {
    case 'partial': {
      const cipher = ct(c.ciphertext);
      const label = hx(c.label);
      if (c.valid) {
        const p = U.partialDecrypt(F, c.trustee, sc(c.secret_share), cipher, label, sc(c.nonce));
        assert.equal(U.toHex(U.partialContext(c.trustee, cipher.beta, label)), c.context);
        assert.equal(U.toHex(p.share.toBytes()), c.share);
        assert.equal(U.toHex(U.encodePartial(p)), c.encoding);
        assert.equal(U.toHex(U.encrypt(el(key.joint_key), c.message, sc(c.encryption_nonce)).alpha.toBytes()), c.ciphertext.alpha);
      }
      expect(c, () => U.verifyPartial(hx(c.fingerprint), cipher, label, el(c.verification_key), U.decodePartial(hx(c.encoding))));
      break;
    }
    case 'lagrange':
      expect(c, () => assert.deepEqual(U.lagrange(c.indices).map((l) => U.toHex(U.scalarToBytes(l))), c.coefficients));
      break;
    case 'combine':
      expect(c, () => {
        const r = U.combine(c.threshold, ct(c.ciphertext), c.partials.map((p: string) => U.decodePartial(hx(p))), c.dlog_bound);
        assert.deepEqual(r.lagrange.map((l) => U.toHex(U.scalarToBytes(l))), c.lagrange);
        assert.equal(U.toHex(r.combined.toBytes()), c.combined);
        assert.equal(U.toHex(r.plaintext.toBytes()), c.plaintext_element);
        assert.equal(r.value, c.plaintext);
      });
      break;
    default:
      assert.fail(`unknown type ${c.type}`);
  }
});

const pointHex = (p: U.Point) => U.toHex(p.toBytes());

/** Secrets of the round 1 cases, by trustee, for the later cases that need them. */
const dkgSecrets = new Map<number, { x: bigint; a: bigint[] }>();

each('dkg.json', (c, top) => {
  const params: U.CeremonyParams = top.ceremony.params;
  const F = hx(top.ceremony.fingerprint);
  assert.equal(U.toHex(U.fingerprintCeremony(hx(top.ceremony.manifest_hash))), top.ceremony.fingerprint);
  switch (c.type) {
    case 'round1': {
      if (c.valid) {
        const x = sc(c.share_key_secret);
        const a = c.coefficient_secrets.map(sc);
        dkgSecrets.set(c.trustee, { x, a });
        assert.equal(U.toHex(U.shareKeyContext(params, c.trustee)), c.share_key_context);
        assert.deepEqual(a.map((_: bigint, k: number) => U.toHex(U.coefficientContext(params, c.trustee, k))), c.coefficient_contexts);
        const m = U.makeRound1(F, params, c.trustee, x, a, { shareKey: sc(c.share_key_proof_nonce), coefficients: c.coefficient_proof_nonces.map(sc) });
        assert.equal(U.toHex(U.encodeRound1(m)), c.encoding, 'byte-for-byte round 1');
        assert.deepEqual(U.round1ToJson(m), c.message);
        assert.equal(U.toHex(U.scalarToBytes(U.schnorrChallenge(F, U.shareKeyContext(params, c.trustee), m.shareKey, m.shareKeyProof.commitment))), c.share_key_proof_challenge);
        m.coefficients.forEach((co, k) =>
          assert.equal(U.toHex(U.scalarToBytes(U.schnorrChallenge(F, U.coefficientContext(params, c.trustee, k), co.commitment, co.proof.commitment))), c.coefficient_proof_challenges[k]),
        );
        assert.equal(U.toHex(U.encodeRound1(U.decodeRound1(hx(c.encoding)))), c.encoding);
        assert.equal(U.toHex(U.encodeRound1(U.round1FromJson(c.message))), c.encoding);
      }
      // Strict decoding, then the §8.2 public check beside the valid messages of the other trustees.
      expect(c, () => {
        const m = U.decodeRound1(hx(c.encoding));
        if (c.message) assert.equal(U.toHex(U.encodeRound1(U.round1FromJson(c.message))), c.encoding);
        const honest = top.cases.filter((o: Case) => o.type === 'round1' && o.valid && o.trustee !== m.trustee).map((o: Case) => U.decodeRound1(hx(o.encoding)));
        const r1 = U.checkRound1(params, hx(top.ceremony.manifest_hash), [...honest, m]);
        const f = r1.faults.find((x) => x.trustee === m.trustee);
        if (f && f.fault === 'invalid_round1') U.fail(f.error, `${f.fault}: ${f.error}`);
        assert.equal(f, undefined);
        assert.ok(r1.accepted.has(m.trustee));
      });
      break;
    }
    case 'round2': {
      const d = dkgSecrets.get(c.dealer)!;
      assert.equal(U.toHex(U.scalarToBytes(U.polyEval(d.a, c.dealer))), c.own_share);
      const recipients = c.shares.map((s: any) => {
        assert.equal(U.toHex(U.scalarToBytes(U.polyEval(d.a, s.recipient))), s.share);
        const X = U.mul(U.G, dkgSecrets.get(s.recipient)!.x);
        assert.equal(pointHex(U.mul(X, sc(s.ephemeral_secret))), s.shared_secret);
        return { j: s.recipient, shareKey: X, e: sc(s.ephemeral_secret) };
      });
      const m = U.makeRound2(F, c.dealer, d.a, recipients);
      assert.equal(U.toHex(U.encodeRound2(m)), c.encoding, 'byte-for-byte round 2');
      assert.deepEqual(U.round2ToJson(m), c.message);
      const back = U.decodeRound2(hx(c.encoding));
      assert.equal(U.toHex(U.encodeRound2(back)), c.encoding);
      U.checkRound2Shape(U.round2FromJson(c.message));
      // Every recipient opens its share and checks it against the dealer's commitments (§8.4).
      const commitments = U.makeRound1(F, params, c.dealer, d.x, d.a).coefficients.map((x) => x.commitment);
      back.shares.forEach((s, k) => {
        const sigma = U.openShareWithSecret(F, s, dkgSecrets.get(s.recipient)!.x);
        assert.equal(U.toHex(U.scalarToBytes(sigma)), c.shares[k].share);
        assert.ok(U.mul(U.G, sigma).equals(U.feldman(commitments, s.recipient)));
      });
      break;
    }
    case 'seal': {
      const X = el(c.recipient_key, false);
      assert.equal(pointHex(U.mul(U.G, sc(c.recipient_secret))), c.recipient_key);
      assert.equal(pointHex(U.mul(U.G, sc(c.ephemeral_secret))), c.ephemeral);
      const E = el(c.ephemeral, false);
      const S = hx(c.shared_secret);
      assert.equal(U.toHex(U.sealKeyTranscript(hx(c.fingerprint), c.dealer, c.recipient, E, X, S)), c.seal_key_transcript);
      assert.equal(U.toHex(U.sealKey(hx(c.fingerprint), c.dealer, c.recipient, E, X, S)), c.seal_key);
      assert.equal(U.toHex(U.SEAL_NONCE), c.aead_nonce);
      assert.equal(U.toHex(U.sealAad(c.dealer, c.recipient)), c.aad);
      const s = U.sealShare(hx(c.fingerprint), c.dealer, c.recipient, X, sc(c.share), sc(c.ephemeral_secret));
      assert.equal(U.toHex(s.sealed), c.sealed);
      assert.equal(c.sealed, c.ciphertext + c.tag);
      assert.equal(U.openShare(hx(c.fingerprint), s, X, S), sc(c.share));
      break;
    }
    case 'open':
      expect(c, () => {
        const s = U.sealedFromJson(c.sealed_share);
        const sigma = U.openShareWithSecret(hx(c.fingerprint), s, sc(c.recipient_secret));
        assert.equal(U.toHex(U.scalarToBytes(sigma)), c.share);
        assert.equal(pointHex(U.mul(U.G, sc(c.recipient_secret))), c.recipient_key);
      });
      break;
    case 'complaint': {
      const Fc = hx(c.fingerprint);
      const dm = U.decodeRound1(hx(c.dealer_round1));
      const cm = U.decodeRound1(hx(c.complainer_round1));
      const sealed = U.sealedFromJson(c.sealed_share);
      if (c.nonce) {
        const made = U.makeComplaint(Fc, sealed.dealer, cm.trustee, sc(c.complainer_secret), sealed.ephemeral, sc(c.nonce));
        assert.equal(U.toHex(U.complaintContext(made.dealer, made.complainer)), c.context);
        assert.equal(U.toHex(U.encodeComplaint(made)), c.encoding, 'byte-for-byte complaint');
        assert.deepEqual(U.complaintToJson(made), c.complaint);
        const p = made.proof;
        assert.equal(U.toHex(U.scalarToBytes(U.dleqChallenge(Fc, hx(c.context), sealed.ephemeral, cm.shareKey, made.sharedSecret, p.commitmentG, p.commitmentY))), c.challenge);
      }
      let verdict: U.Verdict;
      try {
        const complaint = U.decodeComplaint(hx(c.encoding));
        if (c.complaint) assert.equal(U.toHex(U.encodeComplaint(U.complaintFromJson(c.complaint))), c.encoding);
        verdict = U.judgeComplaint(Fc, dm, cm, sealed, complaint);
      } catch (e: any) {
        assert.ok(e instanceof U.UrnaError, String(e));
        verdict = { verdict: 'rejected', reason: e.code };
      }
      assert.equal(verdict.verdict, c.verdict, c.name);
      if (verdict.verdict === 'upheld') {
        assert.ok(c.valid);
        assert.equal(verdict.evidence, c.evidence);
        assert.equal(c.disqualified, dm.trustee);
      } else {
        assert.ok(!c.valid);
        assert.equal(verdict.reason, c.error);
        assert.equal(c.disqualified, cm.trustee);
      }
      break;
    }
    case 'ceremony': {
      const record = U.ceremonyFromJson(c.record);
      expect(c, () => {
        const out = U.verifyCeremony(record);
        assert.deepEqual(out.qualified, c.qualified);
        assert.deepEqual(out.faults, c.faults);
        assert.deepEqual(out.jointCommitments.map(pointHex), c.joint_commitments);
        assert.equal(pointHex(out.jointKey), c.joint_key);
        assert.deepEqual([...out.verificationKeys].map(([trustee, k]) => ({ trustee, verification_key: pointHex(k) })), c.verification_keys);
        assert.equal(U.toHex(out.electionFingerprint), c.election_fingerprint);
        assert.equal(U.toHex(U.fingerprintElection(hx(c.record.manifest_hash), out.jointKey)), c.election_fingerprint);
        // The joint key stated by a record must be the ceremony's.
        U.verifyCeremony(record, el(c.joint_key, false));
        assert.throws(() => U.verifyCeremony(record, U.G), (e: any) => e.code === 'joint_key_mismatch');
        // Each qualified trustee opens the shares sealed to it: s_j, and s_j·G = K_j.
        for (const { trustee, secret_share } of c.secret_shares) {
          const d = dkgSecrets.get(trustee)!;
          const s = U.secretShare(out, record.round2, trustee, d.x, U.polyEval(d.a, trustee));
          assert.equal(U.toHex(U.scalarToBytes(s)), secret_share);
        }
        // The order of the published messages does not change the outcome.
        const shuffled = { ...record, round1: [...record.round1].reverse(), round2: [...record.round2].reverse(), complaints: [...record.complaints].reverse() };
        assert.deepEqual(U.verifyCeremony(shuffled).faults, c.faults);
      });
      break;
    }
    default:
      assert.fail(`unknown type ${c.type}`);
  }
});

test('dkg: equivocation, a missing round 1, a round 2 to a non-participant', () => {
  const d = load('dkg.json');
  const honest = d.cases.find((c: Case) => c.type === 'ceremony' && c.valid && c.faults.length === 0)!;
  const record = U.ceremonyFromJson(honest.record);
  // Trustee 1 publishes a second, different round 1 message: out (equivocation), 2 and 3 stay.
  const other = U.ceremonyFromJson(d.cases.find((c: Case) => c.name.startsWith('trustee 3 publishes no round 2'))!.record);
  const tampered = U.round1FromJson({ ...honest.record.round1[0], share_key_proof: honest.record.round1[1].share_key_proof });
  const eq = U.checkRound1(record.params, record.manifestHash, [...record.round1, tampered]);
  assert.deepEqual(eq.faults, [{ trustee: 1, fault: 'equivocation', round: 1 }]);
  assert.deepEqual([...eq.accepted.keys()].sort(), [2, 3]);
  // An identical repeat counts once.
  assert.deepEqual(U.checkRound1(record.params, record.manifestHash, [...record.round1, record.round1[0]]).faults, []);
  // No message from trustee 2.
  const miss = U.checkRound1(record.params, record.manifestHash, [record.round1[0], record.round1[2]]);
  assert.deepEqual(miss.faults, [{ trustee: 2, fault: 'missing_round1' }]);
  // With P = {1, 3}, dealer 1's round 2 (to 2 and 3) names a non-participant.
  const r2 = U.indexRound2(miss, record.round2);
  assert.deepEqual(r2.faults, [
    { trustee: 1, fault: 'invalid_round2', error: 'bad_trustee_index' },
    { trustee: 3, fault: 'invalid_round2', error: 'bad_trustee_index' },
  ]);
  // Dealer 1's message without its share to 3: shape_mismatch; two different messages: equivocation.
  const short = { dealer: 1, shares: record.round2[0].shares.slice(0, 1) };
  const full = U.checkRound1(record.params, record.manifestHash, record.round1);
  assert.deepEqual(U.indexRound2(full, [short, ...record.round2.slice(1)]).faults, [{ trustee: 1, fault: 'invalid_round2', error: 'shape_mismatch' }]);
  assert.deepEqual(U.indexRound2(full, [short, ...record.round2]).faults, [{ trustee: 1, fault: 'equivocation', round: 2 }]);
  // A complaint from a non-participant is a false complaint (bad_trustee_index); Q stays {1, 2}.
  assert.equal(other.round2.length, 2);
  const p12 = d.cases.find((x: Case) => x.name.startsWith("trustee 3's round 1 coefficient proof fails"))!;
  const rec12 = U.ceremonyFromJson(p12.record);
  const c = U.ceremonyFromJson(d.cases.find((x: Case) => x.name.startsWith('trustee 2 complains'))!.record).complaints[0];
  const out = U.resolveCeremony(U.checkRound1(rec12.params, rec12.manifestHash, rec12.round1), rec12.round2, [{ ...c, complainer: 3 }]);
  assert.deepEqual(out.qualified, [1, 2]);
  assert.deepEqual(out.faults.filter((f) => f.trustee === 3), [
    { trustee: 3, fault: 'invalid_round1', error: 'invalid_proof' },
    { trustee: 3, fault: 'false_complaint', dealer: 1, reason: 'bad_trustee_index' },
  ]);
  assert.equal(pointHex(out.jointKey), p12.joint_key);
});
