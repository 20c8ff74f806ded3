// The key ceremony, public side (spec/sections/08-09-dkg-threshold.md §8):
// strict decoding of round 1, round 2 and complaint messages (§8.8), the
// public checks of round 1 (§8.2) and round 2 (§8.3), sealing and opening
// one share (§8.3, §8.4), judging a complaint (§8.5) and resolving a whole
// ceremony record to the qualified set, the faults, the joint key and the
// verification keys (§8.6, §8.7). It lets an observer re-check a published
// ceremony in the browser; making messages from given secrets exists so the
// test vectors can be reproduced byte for byte, and the trustee page
// (app/trustee.ts, spec/trustee.md §T6) runs a trustee's steps with it
// (JavaScript cannot erase a bigint, so secrets here are not zeroized: the
// page holds them only while unlocked). Curve arithmetic is @noble/curves,
// the AEAD @noble/ciphers.
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { Reader, concat, equalBytes, fail, fromHex, toHex, u16, u8, utf8, UrnaError } from './bytes.js';
import {
  G,
  Point,
  digest32,
  elementField,
  enc,
  fingerprintCeremony,
  frame,
  mod,
  mul,
  mulPub,
  readElement,
  readScalar,
  decodeElement,
  decodeScalar,
  scalarToBytes,
} from './group.js';
import {
  DleqProof,
  SchnorrProof,
  encodeDleq,
  encodeSchnorr,
  proveDleq,
  proveSchnorr,
  readDleq,
  verifyDleq,
  verifySchnorr,
} from './proofs.js';

export const MAX_TRUSTEES = 64;
export const SEALED_LEN = 48;

export interface CeremonyParams {
  n: number;
  t: number;
}
export interface Coefficient {
  commitment: Point;
  proof: SchnorrProof;
}
export interface Round1Message {
  trustee: number;
  params: CeremonyParams;
  shareKey: Point;
  shareKeyProof: SchnorrProof;
  coefficients: Coefficient[];
}
export interface SealedShare {
  dealer: number;
  recipient: number;
  ephemeral: Point;
  /** ChaCha20-Poly1305 ciphertext of the 32-byte share, then the 16-byte tag. */
  sealed: Uint8Array;
}
export interface Round2Message {
  dealer: number;
  shares: SealedShare[];
}
export interface Complaint {
  dealer: number;
  complainer: number;
  sharedSecret: Point;
  proof: DleqProof;
}

const codeOf = (e: unknown): string => (e instanceof UrnaError ? e.code : 'invalid');

function bounded(what: string, v: number, lo: number, hi: number): void {
  if (v < lo || v > hi) fail('out_of_bounds', `${what} = ${v} is outside ${lo}..${hi}`);
}

// ---- §8.1 contexts and Feldman evaluation ----

export const shareKeyContext = (p: CeremonyParams, i: number): Uint8Array =>
  concat(utf8('urna/v1/dkg/share-key'), u16(p.n), u16(p.t), u16(i));
export const coefficientContext = (p: CeremonyParams, i: number, k: number): Uint8Array =>
  concat(utf8('urna/v1/dkg/coefficient'), u16(p.n), u16(p.t), u16(i), u16(k));
export const complaintContext = (i: number, j: number): Uint8Array =>
  concat(utf8('urna/v1/dkg/complaint'), u16(i), u16(j));

/** feldman(C, j) = Σ_k j^k·C_k (public inputs, variable time). */
export function feldman(C: Point[], j: number): Point {
  let pow = 1n;
  let acc = Point.ZERO;
  for (const c of C) {
    acc = acc.add(mulPub(c, pow));
    pow = mod(pow * BigInt(j));
  }
  return acc;
}

/** f(j) = Σ_k a_k·j^k by Horner's rule, in Z_ℓ. */
export function polyEval(a: bigint[], j: number): bigint {
  let acc = 0n;
  for (let k = a.length - 1; k >= 0; k--) acc = mod(acc * BigInt(j) + a[k]);
  return acc;
}

// ---- §8.8.1 Round1Message ----

function readSchnorr(r: Reader): SchnorrProof {
  return { commitment: readElement(r), response: readScalar(r) };
}

export function encodeRound1(m: Round1Message): Uint8Array {
  const parts = [u8(1), u16(m.trustee), u16(m.params.n), u16(m.params.t), enc(m.shareKey), encodeSchnorr(m.shareKeyProof)];
  for (const c of m.coefficients) parts.push(enc(c.commitment), encodeSchnorr(c.proof));
  return concat(...parts);
}

/** Strict decoding: bounds in the order t, n, i right after the integers. */
export function decodeRound1(b: Uint8Array): Round1Message {
  const r = new Reader(b);
  const v = r.u8();
  if (v !== 1) fail('unknown_version', `round 1 message version ${v}`);
  const trustee = r.u16();
  const n = r.u16();
  const t = r.u16();
  bounded('t', t, 1, MAX_TRUSTEES);
  bounded('n', n, t, MAX_TRUSTEES);
  bounded('trustee', trustee, 1, n);
  const shareKey = readElement(r, false);
  const shareKeyProof = readSchnorr(r);
  const coefficients: Coefficient[] = [];
  for (let k = 0; k < t; k++) coefficients.push({ commitment: readElement(r, false), proof: readSchnorr(r) });
  r.end();
  return { trustee, params: { n, t }, shareKey, shareKeyProof, coefficients };
}

/** What decoding enforces, for messages read from JSON (§8.8.4). */
export function checkRound1Shape(m: Round1Message): void {
  bounded('t', m.params.t, 1, MAX_TRUSTEES);
  bounded('n', m.params.n, m.params.t, MAX_TRUSTEES);
  bounded('trustee', m.trustee, 1, m.params.n);
  if (m.coefficients.length !== m.params.t)
    fail('shape_mismatch', `${m.coefficients.length} coefficient commitments for t = ${m.params.t}`);
  if (m.shareKey.is0() || m.coefficients.some((c) => c.commitment.is0())) fail('identity_element', 'an identity element in a round 1 message');
}

/** Makes trustee i's round 1 message from its share key secret x, coefficients a and proof nonces (§8.2). */
export function makeRound1(
  F: Uint8Array,
  p: CeremonyParams,
  i: number,
  x: bigint,
  a: bigint[],
  nonces?: { shareKey: bigint; coefficients: bigint[] },
): Round1Message {
  if (a.length !== p.t) fail('shape_mismatch', 'one coefficient per degree below t');
  if (mod(x) === 0n || a.some((v) => mod(v) === 0n)) fail('identity_element', 'a zero secret commits to the identity');
  return {
    trustee: i,
    params: { ...p },
    shareKey: mul(G, x),
    shareKeyProof: proveSchnorr(F, shareKeyContext(p, i), x, nonces?.shareKey),
    coefficients: a.map((ak, k) => ({
      commitment: mul(G, ak),
      proof: proveSchnorr(F, coefficientContext(p, i, k), ak, nonces?.coefficients[k]),
    })),
  };
}

/** The §8.2 check of one message against the ceremony: parameters, shape, then t + 1 Schnorr proofs. */
export function verifyRound1(F: Uint8Array, p: CeremonyParams, m: Round1Message): void {
  if (m.params.n !== p.n) fail('shape_mismatch', `n = ${m.params.n}, the ceremony has ${p.n}`);
  if (m.params.t !== p.t) fail('shape_mismatch', `t = ${m.params.t}, the ceremony has ${p.t}`);
  checkRound1Shape(m);
  verifySchnorr(F, shareKeyContext(p, m.trustee), m.shareKey, m.shareKeyProof);
  m.coefficients.forEach((c, k) => verifySchnorr(F, coefficientContext(p, m.trustee, k), c.commitment, c.proof));
}

// ---- §8.8.2 Round2Message ----

export function encodeRound2(m: Round2Message): Uint8Array {
  const parts = [u8(1), u16(m.dealer), u16(m.shares.length)];
  for (const s of m.shares) parts.push(u16(s.recipient), enc(s.ephemeral), s.sealed);
  return concat(...parts);
}

export function decodeRound2(b: Uint8Array): Round2Message {
  const r = new Reader(b);
  const v = r.u8();
  if (v !== 1) fail('unknown_version', `round 2 message version ${v}`);
  const dealer = r.u16();
  bounded('dealer', dealer, 1, MAX_TRUSTEES);
  const count = r.u16();
  bounded('sealed shares', count, 0, MAX_TRUSTEES - 1);
  const shares: SealedShare[] = [];
  let last = 0;
  for (let m = 0; m < count; m++) {
    const recipient = r.u16();
    if (recipient <= last || recipient === dealer || recipient > MAX_TRUSTEES) fail('bad_trustee_index', `recipient ${recipient}`);
    last = recipient;
    const ephemeral = readElement(r, false);
    shares.push({ dealer, recipient, ephemeral, sealed: Uint8Array.from(r.bytes(SEALED_LEN)) });
  }
  r.end();
  return { dealer, shares };
}

export function checkRound2Shape(m: Round2Message): void {
  bounded('dealer', m.dealer, 1, MAX_TRUSTEES);
  bounded('sealed shares', m.shares.length, 0, MAX_TRUSTEES - 1);
  let last = 0;
  for (const s of m.shares) {
    if (s.dealer !== m.dealer) fail('bad_trustee_index', `a share names dealer ${s.dealer}`);
    if (s.recipient <= last || s.recipient === m.dealer || s.recipient > MAX_TRUSTEES) fail('bad_trustee_index', `recipient ${s.recipient}`);
    if (s.ephemeral.is0()) fail('identity_element', 'an identity ephemeral key');
    last = s.recipient;
  }
}

// ---- §8.3 sealing, §8.4 opening ----

export function sealKeyTranscript(F: Uint8Array, i: number, j: number, E: Point, Xj: Point, S: Uint8Array): Uint8Array {
  return frame('urna/v1/dkg/share-seal', [
    ['fingerprint', F],
    ['dealer', u16(i)],
    ['recipient', u16(j)],
    elementField('ephemeral', E),
    elementField('recipient_key', Xj),
    ['shared_secret', S],
  ]);
}
export const sealKey = (F: Uint8Array, i: number, j: number, E: Point, Xj: Point, S: Uint8Array): Uint8Array =>
  digest32(sealKeyTranscript(F, i, j, E, Xj, S));
export const sealAad = (i: number, j: number): Uint8Array => concat(u16(i), u16(j));
/** Each key seals one message (it hashes a fresh e·X_j), so the nonce is fixed (§8.3). */
export const SEAL_NONCE = new Uint8Array(12);

/** Seals σ = f_i(j) from dealer i to recipient j (share key X_j) with the ephemeral secret e. */
export function sealShare(F: Uint8Array, i: number, j: number, Xj: Point, sigma: bigint, e: bigint): SealedShare {
  if (mod(e) === 0n) fail('identity_element', 'a zero ephemeral secret');
  const E = mul(G, e);
  const S = mul(Xj, e).toBytes();
  const key = sealKey(F, i, j, E, Xj, S);
  const sealed = chacha20poly1305(key, SEAL_NONCE, sealAad(i, j)).encrypt(scalarToBytes(sigma));
  key.fill(0);
  S.fill(0);
  return { dealer: i, recipient: j, ephemeral: E, sealed };
}

/** Opens a sealed share with the shared point S (§8.4, §8.5): `unreadable_share` if the tag or the scalar is bad. */
export function openShare(F: Uint8Array, s: SealedShare, Xj: Point, S: Uint8Array): bigint {
  const key = sealKey(F, s.dealer, s.recipient, s.ephemeral, Xj, S);
  let plain: Uint8Array;
  try {
    plain = chacha20poly1305(key, SEAL_NONCE, sealAad(s.dealer, s.recipient)).decrypt(s.sealed);
  } catch {
    fail('unreadable_share', `the share of dealer ${s.dealer} to ${s.recipient} does not open`);
  } finally {
    key.fill(0);
  }
  try {
    return decodeScalar(plain);
  } catch {
    fail('unreadable_share', `the share of dealer ${s.dealer} to ${s.recipient} is not a canonical scalar`);
  } finally {
    plain.fill(0);
  }
}

/** The recipient opens with its share key secret x_j (S = x_j·E). */
export function openShareWithSecret(F: Uint8Array, s: SealedShare, xj: bigint): bigint {
  return openShare(F, s, mul(G, xj), mul(s.ephemeral, xj).toBytes());
}

/** Dealer i's round 2 message: f_i(j) sealed to every other participant j, increasing (§8.3). */
export function makeRound2(F: Uint8Array, i: number, a: bigint[], recipients: { j: number; shareKey: Point; e: bigint }[]): Round2Message {
  const sorted = [...recipients].sort((x, y) => x.j - y.j);
  return { dealer: i, shares: sorted.map((r) => sealShare(F, i, r.j, r.shareKey, polyEval(a, r.j), r.e)) };
}

// ---- §8.8.3 Complaint, §8.5 ----

export const encodeComplaint = (c: Complaint): Uint8Array =>
  concat(u8(1), u16(c.dealer), u16(c.complainer), enc(c.sharedSecret), encodeDleq(c.proof));

export function checkComplaintShape(c: Complaint): void {
  bounded('dealer', c.dealer, 1, MAX_TRUSTEES);
  bounded('complainer', c.complainer, 1, MAX_TRUSTEES);
  if (c.dealer === c.complainer) fail('bad_trustee_index', `trustee ${c.complainer} complains about itself`);
  if (c.sharedSecret.is0()) fail('identity_element', 'the shared secret is the identity');
}

/** Strict decoding; the index and identity rules after the whole structure is read. */
export function decodeComplaint(b: Uint8Array): Complaint {
  const r = new Reader(b);
  const v = r.u8();
  if (v !== 1) fail('unknown_version', `complaint version ${v}`);
  const c: Complaint = { dealer: r.u16(), complainer: r.u16(), sharedSecret: readElement(r), proof: readDleq(r) };
  r.end();
  checkComplaintShape(c);
  return c;
}

/** Recipient j's complaint against dealer i's share sealed with ephemeral E (§8.5). */
export function makeComplaint(F: Uint8Array, i: number, j: number, xj: bigint, E: Point, u?: bigint): Complaint {
  return { dealer: i, complainer: j, sharedSecret: mul(E, xj), proof: proveDleq(F, complaintContext(i, j), E, xj, u) };
}

export type Verdict = { verdict: 'upheld'; evidence: string } | { verdict: 'rejected'; reason: string };

/** §8.5: judges one complaint from public data alone. */
export function judgeComplaint(F: Uint8Array, dealer: Round1Message, complainer: Round1Message, sealed: SealedShare, c: Complaint): Verdict {
  const rejected = (reason: string): Verdict => ({ verdict: 'rejected', reason });
  try {
    checkComplaintShape(c);
  } catch (e) {
    return rejected(codeOf(e));
  }
  const [i, j] = [c.dealer, c.complainer];
  for (const [named, want] of [[dealer.trustee, i], [sealed.dealer, i], [complainer.trustee, j], [sealed.recipient, j]])
    if (named !== want) return rejected('bad_trustee_index');
  try {
    verifyDleq(F, complaintContext(i, j), sealed.ephemeral, complainer.shareKey, c.sharedSecret, c.proof);
  } catch (e) {
    return rejected(codeOf(e));
  }
  let sigma: bigint;
  try {
    sigma = openShare(F, sealed, complainer.shareKey, enc(c.sharedSecret));
  } catch (e) {
    return { verdict: 'upheld', evidence: codeOf(e) };
  }
  // The share is public now: variable-time arithmetic is fine.
  const got = sigma === 0n ? Point.ZERO : mulPub(G, sigma);
  if (!got.equals(feldman(dealer.coefficients.map((x) => x.commitment), j))) return { verdict: 'upheld', evidence: 'bad_share' };
  return rejected('unfounded_complaint');
}

// ---- §8.8.4 JSON forms ----
// Elements and scalars must be canonical (a record that is not is refused
// as a whole); the rules of the binary decoding that concern meaning
// (bounds, counts, identities) are left to the public checks, which name
// the trustee at fault.

type J = Record<string, any>;
const jEl = (s: unknown): Point => decodeElement(fromHex(String(s), 32));
const jSc = (s: unknown): bigint => decodeScalar(fromHex(String(s), 32));
function jInt(v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffff) fail('out_of_bounds', `not a u16: ${JSON.stringify(v)}`);
  return v;
}
function jArr(v: unknown): J[] {
  if (!Array.isArray(v)) fail('invalid_json', 'expected an array');
  return v;
}
const jSchnorr = (p: J): SchnorrProof => ({ commitment: jEl(p.commitment), response: jSc(p.response) });
const jDleq = (p: J): DleqProof => ({ commitmentG: jEl(p.commitment_g), commitmentY: jEl(p.commitment_y), response: jSc(p.response) });
const schnorrJson = (p: SchnorrProof) => ({ commitment: toHex(enc(p.commitment)), response: toHex(scalarToBytes(p.response)) });

export function round1FromJson(m: J): Round1Message {
  return {
    trustee: jInt(m.trustee),
    params: { n: jInt(m.params?.n), t: jInt(m.params?.t) },
    shareKey: jEl(m.share_key),
    shareKeyProof: jSchnorr(m.share_key_proof),
    coefficients: jArr(m.coefficients).map((c) => ({ commitment: jEl(c.commitment), proof: jSchnorr(c.proof) })),
  };
}
export function round1ToJson(m: Round1Message): J {
  return {
    trustee: m.trustee,
    params: { n: m.params.n, t: m.params.t },
    share_key: toHex(enc(m.shareKey)),
    share_key_proof: schnorrJson(m.shareKeyProof),
    coefficients: m.coefficients.map((c) => ({ commitment: toHex(enc(c.commitment)), proof: schnorrJson(c.proof) })),
  };
}
export const sealedFromJson = (s: J): SealedShare => ({
  dealer: jInt(s.dealer),
  recipient: jInt(s.recipient),
  ephemeral: jEl(s.ephemeral),
  sealed: fromHex(String(s.sealed), SEALED_LEN),
});
export const sealedToJson = (s: SealedShare): J => ({ dealer: s.dealer, recipient: s.recipient, ephemeral: toHex(enc(s.ephemeral)), sealed: toHex(s.sealed) });
export const round2FromJson = (m: J): Round2Message => ({ dealer: jInt(m.dealer), shares: jArr(m.shares).map(sealedFromJson) });
export const round2ToJson = (m: Round2Message): J => ({ dealer: m.dealer, shares: m.shares.map(sealedToJson) });
export const complaintFromJson = (c: J): Complaint => ({
  dealer: jInt(c.dealer),
  complainer: jInt(c.complainer),
  sharedSecret: jEl(c.shared_secret),
  proof: jDleq(c.proof),
});
export const complaintToJson = (c: Complaint): J => ({
  dealer: c.dealer,
  complainer: c.complainer,
  shared_secret: toHex(enc(c.sharedSecret)),
  proof: { commitment_g: toHex(enc(c.proof.commitmentG)), commitment_y: toHex(enc(c.proof.commitmentY)), response: toHex(scalarToBytes(c.proof.response)) },
});

export interface CeremonyRecord {
  params: CeremonyParams;
  manifestHash: Uint8Array;
  round1: Round1Message[];
  round2: Round2Message[];
  complaints: Complaint[];
}
export function ceremonyFromJson(r: J): CeremonyRecord {
  return {
    params: { n: jInt(r.params?.n), t: jInt(r.params?.t) },
    manifestHash: fromHex(String(r.manifest_hash), 32),
    round1: jArr(r.round1).map(round1FromJson),
    round2: jArr(r.round2).map(round2FromJson),
    complaints: jArr(r.complaints).map(complaintFromJson),
  };
}

// ---- §8.2, §8.3, §8.6 the public resolution ----

/** A fault in the form of the vectors: {trustee, fault, error | round | complainer + evidence | dealer + reason}. */
export type Fault =
  | { trustee: number; fault: 'missing_round1' | 'missing_round2' }
  | { trustee: number; fault: 'invalid_round1' | 'invalid_round2'; error: string }
  | { trustee: number; fault: 'equivocation'; round: 1 | 2 }
  | { trustee: number; fault: 'bad_share'; complainer: number; evidence: string }
  | { trustee: number; fault: 'false_complaint'; dealer: number; reason: string };

export interface Round1Outcome {
  params: CeremonyParams;
  manifestHash: Uint8Array;
  fingerprint: Uint8Array;
  /** The participants P, by index. */
  accepted: Map<number, Round1Message>;
  faults: Fault[];
}

/** Keeps one message per sender: identical encodings merge, different ones are equivocation. */
function onePerSender<T>(items: [number, T][], encode: (m: T) => Uint8Array): { unique: Map<number, T>; equivocators: Set<number> } {
  const unique = new Map<number, { m: T; bytes: Uint8Array }>();
  const equivocators = new Set<number>();
  for (const [sender, m] of items) {
    if (equivocators.has(sender)) continue;
    const bytes = encode(m);
    const prev = unique.get(sender);
    if (!prev) unique.set(sender, { m, bytes });
    else if (!equalBytes(prev.bytes, bytes)) {
      unique.delete(sender);
      equivocators.add(sender);
    }
  }
  return { unique: new Map([...unique].map(([k, v]) => [k, v.m])), equivocators };
}
const byTrustee = (a: Fault, b: Fault): number => a.trustee - b.trustee;
const ascending = (a: number, b: number): number => a - b;

function checkParams(p: CeremonyParams): void {
  if (!(p.t >= 1 && p.t <= p.n && p.n <= MAX_TRUSTEES)) fail('invalid_parameters', `need 1 ≤ t ≤ n ≤ ${MAX_TRUSTEES}, got n = ${p.n}, t = ${p.t}`);
}

/** §8.2 public check: the participants P; `too_few_qualified` if |P| < t. */
export function checkRound1(p: CeremonyParams, manifestHash: Uint8Array, messages: Round1Message[]): Round1Outcome {
  checkParams(p);
  const F = fingerprintCeremony(manifestHash);
  const { unique, equivocators } = onePerSender(messages.map((m) => [m.trustee, m] as [number, Round1Message]), encodeRound1);
  const faults: Fault[] = [...equivocators].map((trustee) => ({ trustee, fault: 'equivocation', round: 1 }));
  const accepted = new Map<number, Round1Message>();
  const bad = new Set<number>();
  for (const [i, m] of [...unique].sort((a, b) => a[0] - b[0])) {
    try {
      verifyRound1(F, p, m);
      accepted.set(i, m);
    } catch (e) {
      bad.add(i);
      faults.push({ trustee: i, fault: 'invalid_round1', error: codeOf(e) });
    }
  }
  for (let i = 1; i <= p.n; i++) if (!accepted.has(i) && !bad.has(i) && !equivocators.has(i)) faults.push({ trustee: i, fault: 'missing_round1' });
  faults.sort(byTrustee);
  if (accepted.size < p.t) fail('too_few_qualified', `${accepted.size} participants for a threshold of ${p.t}`);
  return { params: p, manifestHash, fingerprint: F, accepted, faults };
}

function checkRecipients(r1: Round1Outcome, m: Round2Message): void {
  checkRound2Shape(m);
  const expected = [...r1.accepted.keys()].filter((j) => j !== m.dealer).sort(ascending);
  const found = m.shares.map((s) => s.recipient);
  if (expected.length === found.length && expected.every((j, k) => found[k] === j)) return;
  const stray = found.find((j) => !expected.includes(j));
  if (stray !== undefined) fail('bad_trustee_index', `a share for ${stray}, not another participant`);
  fail('shape_mismatch', `${found.length} sealed shares, expected ${expected.length}`);
}

/** §8.3 public check: the dealers R2 with a well-formed round 2 message, and the faults. */
export function indexRound2(r1: Round1Outcome, messages: Round2Message[]): { valid: Map<number, Round2Message>; faults: Fault[] } {
  const relevant = messages.filter((m) => r1.accepted.has(m.dealer)).map((m) => [m.dealer, m] as [number, Round2Message]);
  const { unique, equivocators } = onePerSender(relevant, encodeRound2);
  const faults: Fault[] = [...equivocators].map((trustee) => ({ trustee, fault: 'equivocation', round: 2 }));
  const valid = new Map<number, Round2Message>();
  for (const [dealer, m] of [...unique].sort((a, b) => a[0] - b[0])) {
    try {
      checkRecipients(r1, m);
      valid.set(dealer, m);
    } catch (e) {
      faults.push({ trustee: dealer, fault: 'invalid_round2', error: codeOf(e) });
    }
  }
  for (const i of [...r1.accepted.keys()].sort(ascending))
    if (!valid.has(i) && !equivocators.has(i) && !faults.some((f) => f.trustee === i)) faults.push({ trustee: i, fault: 'missing_round2' });
  return { valid, faults };
}

export interface CeremonyOutcome {
  params: CeremonyParams;
  manifestHash: Uint8Array;
  /** Q, increasing. */
  qualified: number[];
  /** Sorted by trustee, in the order found within a trustee. */
  faults: Fault[];
  /** A_k = Σ_{i∈Q} C_{i,k}. */
  jointCommitments: Point[];
  /** K = A_0. */
  jointKey: Point;
  /** K_j = feldman(A, j) for j ∈ Q. */
  verificationKeys: Map<number, Point>;
  /** F_election (§3.5). */
  electionFingerprint: Uint8Array;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let k = 0; k < n; k++) if (a[k] !== b[k]) return a[k] - b[k];
  return a.length - b.length;
}

/** §8.6: round 2 check, complaints in the order of their encodings, Q, K, the K_j. */
export function resolveCeremony(r1: Round1Outcome, round2: Round2Message[], complaints: Complaint[]): CeremonyOutcome {
  const { valid: r2, faults: r2Faults } = indexRound2(r1, round2);
  const faults: Fault[] = [...r1.faults, ...r2Faults];
  const sorted = complaints.map((c) => ({ c, bytes: encodeComplaint(c) })).sort((a, b) => compareBytes(a.bytes, b.bytes));
  const seen: Uint8Array[] = [];
  for (const { c, bytes } of sorted) {
    if (seen.length && equalBytes(seen[seen.length - 1], bytes)) continue;
    seen.push(bytes);
    const falseComplaint = (reason: string) => faults.push({ trustee: c.complainer, fault: 'false_complaint', dealer: c.dealer, reason });
    try {
      checkComplaintShape(c);
    } catch (e) {
      falseComplaint(codeOf(e));
      continue;
    }
    const dm = r1.accepted.get(c.dealer);
    const cm = r1.accepted.get(c.complainer);
    if (!dm || !cm) {
      falseComplaint('bad_trustee_index');
      continue;
    }
    // A dealer without a well-formed round 2 message is out already.
    const sealed = r2.get(c.dealer)?.shares.find((s) => s.recipient === c.complainer);
    if (!sealed) continue;
    const v = judgeComplaint(r1.fingerprint, dm, cm, sealed, c);
    if (v.verdict === 'upheld') faults.push({ trustee: c.dealer, fault: 'bad_share', complainer: c.complainer, evidence: v.evidence });
    else falseComplaint(v.reason);
  }
  faults.sort(byTrustee);
  const out = new Set(faults.map((f) => f.trustee));
  const qualified = [...r1.accepted.keys()].filter((i) => !out.has(i)).sort(ascending);
  const t = r1.params.t;
  if (qualified.length < t) fail('too_few_qualified', `${qualified.length} qualified trustees for a threshold of ${t}`);
  const jointCommitments: Point[] = [];
  for (let k = 0; k < t; k++) jointCommitments.push(qualified.reduce((acc, i) => acc.add(r1.accepted.get(i)!.coefficients[k].commitment), Point.ZERO));
  const jointKey = jointCommitments[0];
  if (jointKey.is0()) fail('identity_element', 'the joint key is the identity');
  const verificationKeys = new Map(qualified.map((j) => [j, feldman(jointCommitments, j)] as [number, Point]));
  return {
    params: r1.params,
    manifestHash: r1.manifestHash,
    qualified,
    faults,
    jointCommitments,
    jointKey,
    verificationKeys,
    electionFingerprint: digest32(frame('urna/v1/fingerprint/election', [['manifest_hash', r1.manifestHash], elementField('joint_key', jointKey)])),
  };
}

/** §8.7: a whole published ceremony; `joint_key_mismatch` if `claimed` (the record's key) differs. */
export function verifyCeremony(record: CeremonyRecord, claimed?: Point): CeremonyOutcome {
  const r1 = checkRound1(record.params, record.manifestHash, record.round1);
  const out = resolveCeremony(r1, record.round2, record.complaints);
  if (claimed && !claimed.equals(out.jointKey)) fail('joint_key_mismatch', 'the stated joint key is not the ceremony’s');
  return out;
}

/** Trustee j's secret share s_j = Σ_{i∈Q} σ_{i,j} (its own σ_{j,j} given), opening the shares sealed to it. */
export function secretShare(out: CeremonyOutcome, round2: Round2Message[], j: number, xj: bigint, own: bigint): bigint {
  const F = fingerprintCeremony(out.manifestHash);
  let s = own;
  for (const i of out.qualified) {
    if (i === j) continue;
    const sealed = round2.find((m) => m.dealer === i)?.shares.find((x) => x.recipient === j);
    if (!sealed) fail('shape_mismatch', `no share from dealer ${i} to ${j}`);
    s = mod(s + openShareWithSecret(F, sealed, xj));
  }
  if (!mul(G, s).equals(out.verificationKeys.get(j) ?? Point.ZERO)) fail('bad_share', `s_${j}·G is not K_${j}`);
  return s;
}
