// Ballots (crypto.md §7; record.md §R6, §R7): encryption with proofs,
// the byte layout, strict decoding, verification and Benaloh audits.
import { sha256 } from '@noble/hashes/sha2.js';
import { fail, Reader, concat, u8, u16, u32, utf8 } from './bytes.js';
import { Ciphertext, encodeCiphertext, encrypt, readCiphertext, sumCiphertexts } from './elgamal.js';
import { G, H, Point, enc, mod, mul, mulPub, prepare, randomBytes, randomScalar, readElement, readScalar, scalarToBytes } from './group.js';
import {
  RangeProof,
  RangeRandomness,
  Signature,
  encodeRange,
  encodeSignature,
  freshRangeRandomness,
  proveRange,
  readRange,
  readSignature,
  sign,
  verifyRange,
  verifySignature,
} from './proofs.js';

export interface ContestShape {
  options: number;
  option_max: number;
  min: number;
  max: number;
}

export const MAX_CONTESTS = 64;
export const MAX_HEADER = 1024;
export const BALLOT_VERSION = 2;
export const SUM_PROOF = 0xffff;

/** §7.1 bounds; `out_of_bounds` otherwise. */
export function checkShape(s: ContestShape): void {
  const ok =
    s.options >= 1 &&
    s.options <= 512 &&
    s.option_max >= 1 &&
    s.option_max <= 255 &&
    s.min <= s.max &&
    s.max <= s.options * s.option_max &&
    s.max - s.min <= 255;
  if (!ok) fail('out_of_bounds', `contest shape ${JSON.stringify(s)} is outside the bounds of §7.1`);
}

/** §7.1: min = max = k; the last option is then derived, not sent. */
export const isExact = (s: ContestShape): boolean => s.min === s.max;
/** §7.3: options whose ciphertext is on the wire. */
export const sentOptions = (s: ContestShape): number => s.options - (isExact(s) ? 1 : 0);
/** §7.1: the derived option's range follows from the others' (n = 1, or n = 2 with k = option_max). */
export const lastRangeImplied = (s: ContestShape): boolean =>
  isExact(s) && (s.options === 1 || (s.options === 2 && s.max === s.option_max));
/** §7.3: range proofs in a contest, in option order. */
export const optionProofCount = (s: ContestShape): number => s.options - (lastRangeImplied(s) ? 1 : 0);

/** §7.1: the derived last option Enc(k; 0) − Σ sent = (−Σα, k·H − Σβ). */
export function derivedCiphertext(s: ContestShape, sent: Ciphertext[]): Ciphertext {
  const t = sumCiphertexts(sent);
  const kH = s.max === 0 ? Point.ZERO : mulPub(H, BigInt(s.max));
  return { alpha: t.alpha.negate(), beta: kH.subtract(t.beta) };
}

export interface EncryptedContest {
  shape: ContestShape;
  /** All n options, an exact contest's derived last one included. */
  ciphertexts: Ciphertext[];
  /** One per option in order, except an implied derived option. */
  optionProofs: RangeProof[];
  /** null in an exact contest (its sum is fixed). */
  sumProof: RangeProof | null;
}

export interface Ballot {
  credential: Point;
  header: Uint8Array;
  contests: EncryptedContest[];
  signature: Signature;
  /** The signed bytes: the encoding without its last 64 bytes. */
  signed: Uint8Array;
  bytes: Uint8Array;
}

/** §7.2: P ‖ u16(contest) ‖ u16(option or 0xffff). */
export function proofContext(P: Point, contest: number, option: number): Uint8Array {
  return concat(enc(P), u16(contest), u16(option));
}

function encodeContest(c: EncryptedContest): Uint8Array {
  const parts = [u16(c.shape.options), u32(c.shape.option_max), u32(c.shape.min), u32(c.shape.max)];
  const sent = sentOptions(c.shape);
  c.ciphertexts.slice(0, sent).forEach((ct, i) => parts.push(encodeCiphertext(ct), encodeRange(c.optionProofs[i])));
  c.optionProofs.slice(sent).forEach((p) => parts.push(encodeRange(p)));
  if (c.sumProof) parts.push(encodeRange(c.sumProof));
  return concat(...parts);
}

export function encodeSigned(P: Point, header: Uint8Array, contests: EncryptedContest[]): Uint8Array {
  return concat(u8(BALLOT_VERSION), enc(P), u32(header.length), header, u16(contests.length), ...contests.map(encodeContest));
}

/** §7.3 strict decoding (step 1 of §7.4). */
export function decodeBallot(bytes: Uint8Array): Ballot {
  const r = new Reader(bytes);
  const version = r.u8();
  if (version !== BALLOT_VERSION) fail('unknown_version', `ballot version ${version}`);
  const credential = readElement(r, false);
  const header = r.bytes32(MAX_HEADER);
  const n = r.u16();
  if (n < 1 || n > MAX_CONTESTS) fail('out_of_bounds', `${n} contests`);
  const contests: EncryptedContest[] = [];
  for (let i = 0; i < n; i++) {
    const shape = { options: r.u16(), option_max: r.u32(), min: r.u32(), max: r.u32() };
    checkShape(shape);
    const ciphertexts: Ciphertext[] = [];
    const optionProofs: RangeProof[] = [];
    for (let o = 0; o < sentOptions(shape); o++) {
      ciphertexts.push(readCiphertext(r));
      optionProofs.push(readRange(r, shape.option_max + 1));
    }
    let sumProof: RangeProof | null = null;
    if (isExact(shape)) {
      ciphertexts.push(derivedCiphertext(shape, ciphertexts));
      if (!lastRangeImplied(shape)) optionProofs.push(readRange(r, shape.option_max + 1));
    } else sumProof = readRange(r, shape.max - shape.min + 1);
    contests.push({ shape, ciphertexts, optionProofs, sumProof });
  }
  const signedLen = r.offset;
  const signature = readSignature(r);
  r.end();
  return { credential, header, contests, signature, signed: bytes.subarray(0, signedLen), bytes };
}

export interface Election {
  /** The joint key K. */
  key: Point;
  /** F_election. */
  fingerprint: Uint8Array;
}

/** §7.4 steps 2–5 on a decoded ballot against the expected style. */
export function verifyBallot(b: Ballot, shapes: ContestShape[], e: Election): void {
  if (b.contests.length !== shapes.length) fail('shape_mismatch', 'the ballot has another number of contests');
  b.contests.forEach((c, ci) => {
    const s = shapes[ci];
    if (c.shape.options !== s.options || c.shape.option_max !== s.option_max || c.shape.min !== s.min || c.shape.max !== s.max)
      fail('shape_mismatch', `contest ${ci} has another shape`);
    if (c.ciphertexts.length !== s.options || c.optionProofs.length !== optionProofCount(s) || (c.sumProof === null) !== isExact(s))
      fail('shape_mismatch', `contest ${ci} has another number of ciphertexts or proofs`);
    c.optionProofs.forEach((p, o) =>
      verifyRange(e.fingerprint, proofContext(b.credential, ci, o), e.key, [c.ciphertexts[o]], 0, s.option_max, p),
    );
    if (c.sumProof) verifyRange(e.fingerprint, proofContext(b.credential, ci, SUM_PROOF), e.key, c.ciphertexts, s.min, s.max, c.sumProof);
  });
  verifySignature(e.fingerprint, b.credential, b.signed, b.signature);
}

export function decodeAndVerifyBallot(bytes: Uint8Array, shapes: ContestShape[], e: Election): Ballot {
  const b = decodeBallot(bytes);
  verifyBallot(b, shapes, e);
  return b;
}

/** Checks a voter's selections against the shapes (min/max, option_max). */
export function checkSelections(shapes: ContestShape[], selections: number[][]): void {
  if (selections.length !== shapes.length) fail('shape_mismatch', 'one selection list per contest');
  shapes.forEach((s, ci) => {
    const sel = selections[ci];
    if (sel.length !== s.options) fail('shape_mismatch', `contest ${ci}: one value per option`);
    let sum = 0;
    for (const v of sel) {
      if (!Number.isInteger(v) || v < 0 || v > s.option_max) fail('value_out_of_range', `contest ${ci}: value ${v}`);
      sum += v;
    }
    if (sum < s.min || sum > s.max) fail('value_out_of_range', `contest ${ci}: ${sum} selections, allowed ${s.min}..${s.max}`);
  });
}

/** Where the encryption's random values come from (tests replay vectors). */
export interface BallotRandomness {
  nonce(contest: number, option: number): bigint;
  optionProof(contest: number, option: number): RangeRandomness;
  sumProof(contest: number): RangeRandomness;
  signatureRandom(): Uint8Array;
}
export const freshBallotRandomness: BallotRandomness = {
  nonce: () => randomScalar(),
  optionProof: () => freshRangeRandomness,
  sumProof: () => freshRangeRandomness,
  signatureRandom: () => randomBytes(32),
};

export interface EncryptedBallot {
  ballot: Ballot;
  bytes: Uint8Array;
  /** The secrets a Benaloh audit reveals: values and nonces per contest, per option. */
  selections: number[][];
  nonces: bigint[][];
  tracking: Uint8Array;
}

/** Encrypts and proves a whole ballot and signs it with the credential secret x. */
export function encryptBallot(
  e: Election,
  x: bigint,
  header: Uint8Array,
  shapes: ContestShape[],
  selections: number[][],
  rand: BallotRandomness = freshBallotRandomness,
): EncryptedBallot {
  if (header.length > MAX_HEADER) fail('out_of_bounds', 'header too long');
  if (shapes.length < 1 || shapes.length > MAX_CONTESTS) fail('out_of_bounds', `${shapes.length} contests`);
  shapes.forEach(checkShape);
  checkSelections(shapes, selections);
  prepare(e.key);
  const P = mul(G, x);
  const nonces: bigint[][] = [];
  const contests: EncryptedContest[] = shapes.map((s, ci) => {
    const rs: bigint[] = [];
    const cts: Ciphertext[] = [];
    const proofs: RangeProof[] = [];
    for (let o = 0; o < s.options; o++) {
      // An exact contest's last option is derived, with nonce −Σ r (§7.1).
      const sent = o < sentOptions(s);
      const r = sent ? rand.nonce(ci, o) : mod(-rs.reduce((a, x) => a + x, 0n));
      const ct = sent ? encrypt(e.key, selections[ci][o], r) : derivedCiphertext(s, cts);
      rs.push(r);
      cts.push(ct);
      if (o < optionProofCount(s))
        proofs.push(
          proveRange(e.fingerprint, proofContext(P, ci, o), e.key, [ct], 0, s.option_max, selections[ci][o], r, rand.optionProof(ci, o)),
        );
    }
    nonces.push(rs);
    const total = selections[ci].reduce((a, v) => a + v, 0);
    const rsum = rs.reduce((a, r) => mod(a + r), 0n);
    const sumProof = isExact(s)
      ? null
      : proveRange(e.fingerprint, proofContext(P, ci, SUM_PROOF), e.key, cts, s.min, s.max, total, rsum, rand.sumProof(ci));
    return { shape: s, ciphertexts: cts, optionProofs: proofs, sumProof };
  });
  const signed = encodeSigned(P, header, contests);
  const signature = sign(e.fingerprint, x, signed, rand.signatureRandom());
  const bytes = concat(signed, encodeSignature(signature));
  const ballot: Ballot = { credential: P, header, contests, signature, signed, bytes };
  return { ballot, bytes, selections: selections.map((s) => s.slice()), nonces, tracking: trackingCode(bytes) };
}

/** record.md §R6.2: SHA-256 of the ballot bytes. */
export const trackingCode = (ballotBytes: Uint8Array): Uint8Array => sha256(ballotBytes);

/** record.md §R6.1: u8(1) ‖ SHA-256(election id) ‖ id(district). */
export function ballotHeader(electionId: string, district: string): Uint8Array {
  const d = utf8(district);
  return concat(u8(1), sha256(utf8(electionId)), u8(d.length), d);
}

// ---- §7.5 Benaloh audit, record.md §R7 payload ----

/** Checks Enc_K(v; r) = (α, β) for every option, a derived one included (`shape_mismatch`, `invalid_proof`). */
export function verifyAudit(b: Ballot, K: Point, selections: number[][], nonces: bigint[][]): void {
  if (selections.length !== b.contests.length || nonces.length !== b.contests.length)
    fail('shape_mismatch', 'the revealed lists do not match the ballot');
  b.contests.forEach((c, ci) => {
    if (selections[ci].length !== c.ciphertexts.length || nonces[ci].length !== c.ciphertexts.length)
      fail('shape_mismatch', `contest ${ci}: the revealed lists do not match`);
    c.ciphertexts.forEach((ct, o) => {
      const again = encrypt(K, selections[ci][o], nonces[ci][o]);
      if (!again.alpha.equals(ct.alpha) || !again.beta.equals(ct.beta))
        fail('invalid_proof', `contest ${ci}, option ${o} does not re-encrypt (audit mismatch)`);
    });
  });
}

export function encodeAuditPayload(ballotBytes: Uint8Array, selections: number[][], nonces: bigint[][]): Uint8Array {
  const parts = [u8(1), u32(ballotBytes.length), ballotBytes];
  selections.forEach((sel, ci) => sel.forEach((v, o) => parts.push(u8(v), scalarToBytes(nonces[ci][o]))));
  return concat(...parts);
}

export interface AuditPayload {
  ballot: Ballot;
  selections: number[][];
  nonces: bigint[][];
}
export function decodeAuditPayload(bytes: Uint8Array): AuditPayload {
  const r = new Reader(bytes);
  const v = r.u8();
  if (v !== 1) fail('unknown_version', `audited ballot version ${v}`);
  const n = r.u32();
  const ballot = decodeBallot(r.bytes(n));
  const selections: number[][] = [];
  const nonces: bigint[][] = [];
  for (const c of ballot.contests) {
    const sel: number[] = [];
    const rs: bigint[] = [];
    for (let o = 0; o < c.shape.options; o++) {
      const value = r.u8();
      if (value > c.shape.option_max) fail('out_of_bounds', `value ${value} above option_max`);
      sel.push(value);
      rs.push(readScalar(r));
    }
    selections.push(sel);
    nonces.push(rs);
  }
  r.end();
  return { ballot, selections, nonces };
}
