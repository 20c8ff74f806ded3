// Proofs in commitment form (crypto.md §6): Schnorr, DLEQ, the disjunctive
// range proof and credential signatures. Verification recomputes every
// challenge from the statement the verifier expects (strong Fiat-Shamir).
import { mulAddUnsafe } from '@noble/curves/abstract/curve.js';
import { fail, Reader, concat } from './bytes.js';
import { Ciphertext, sumCiphertexts } from './elgamal.js';
import {
  G,
  H,
  L,
  Point,
  Field,
  challenge,
  elementField,
  frame,
  mod,
  enc,
  mul,
  prepare,
  randomBytes,
  randomScalar,
  readElement,
  readScalar,
  scalarField,
  scalarToBytes,
  u64Field,
} from './group.js';

/** Σ s_i·P_i = 0 (public inputs; variable time). */
export function isZeroSum(points: Point[], scalars: bigint[]): boolean {
  return mulAddUnsafe(Point, points, scalars.map(mod)).is0();
}

function invalid(what: string): never {
  fail('invalid_proof', `${what} does not verify`);
}

// ---- §6.2 Schnorr ----

export interface SchnorrProof {
  commitment: Point;
  response: bigint;
}
export function schnorrChallenge(F: Uint8Array, ctx: Uint8Array, X: Point, A: Point): bigint {
  return challenge(
    frame('urna/v1/proof/schnorr', [
      ['fingerprint', F],
      ['context', ctx],
      elementField('statement', X),
      elementField('commitment', A),
    ]),
  );
}
export function decodeSchnorr(b: Uint8Array): SchnorrProof {
  const r = new Reader(b);
  const p = { commitment: readElement(r), response: readScalar(r) };
  r.end();
  return p;
}
export function proveSchnorr(F: Uint8Array, ctx: Uint8Array, x: bigint, u: bigint = randomScalar()): SchnorrProof {
  const X = mul(G, x);
  const A = mul(G, u);
  const c = schnorrChallenge(F, ctx, X, A);
  return { commitment: A, response: mod(u + c * x) };
}
export const encodeSchnorr = (p: SchnorrProof): Uint8Array =>
  concat(p.commitment.toBytes(), scalarToBytes(p.response));
export function verifySchnorr(F: Uint8Array, ctx: Uint8Array, X: Point, p: SchnorrProof): void {
  const c = schnorrChallenge(F, ctx, X, p.commitment);
  if (!isZeroSum([p.commitment, X, G], [1n, c, L - p.response])) invalid('Schnorr proof');
}

// ---- §6.3 DLEQ ----

export interface DleqProof {
  commitmentG: Point;
  commitmentY: Point;
  response: bigint;
}
export function dleqChallenge(F: Uint8Array, ctx: Uint8Array, Y: Point, X: Point, Z: Point, A: Point, B: Point): bigint {
  return challenge(
    frame('urna/v1/proof/dleq', [
      ['fingerprint', F],
      ['context', ctx],
      elementField('base', Y),
      elementField('public', X),
      elementField('image', Z),
      elementField('commitment_g', A),
      elementField('commitment_y', B),
    ]),
  );
}
export function readDleq(r: Reader): DleqProof {
  return { commitmentG: readElement(r), commitmentY: readElement(r), response: readScalar(r) };
}
export function decodeDleq(b: Uint8Array): DleqProof {
  const r = new Reader(b);
  const p = readDleq(r);
  r.end();
  return p;
}
export const encodeDleq = (p: DleqProof): Uint8Array =>
  concat(p.commitmentG.toBytes(), p.commitmentY.toBytes(), scalarToBytes(p.response));
export function proveDleq(F: Uint8Array, ctx: Uint8Array, Y: Point, s: bigint, u: bigint = randomScalar()): DleqProof {
  const X = mul(G, s);
  const Z = mul(Y, s);
  const A = mul(G, u);
  const B = mul(Y, u);
  const c = dleqChallenge(F, ctx, Y, X, Z, A, B);
  return { commitmentG: A, commitmentY: B, response: mod(u + c * s) };
}
export function verifyDleq(F: Uint8Array, ctx: Uint8Array, Y: Point, X: Point, Z: Point, p: DleqProof): void {
  const c = dleqChallenge(F, ctx, Y, X, Z, p.commitmentG, p.commitmentY);
  const nz = L - p.response;
  if (!isZeroSum([p.commitmentG, X, G], [1n, c, nz]) || !isZeroSum([p.commitmentY, Z, Y], [1n, c, nz]))
    invalid('DLEQ proof');
}

// ---- §6.4 range proof ----

export interface Branch {
  a: Point;
  b: Point;
  c: bigint;
  z: bigint;
}
export type RangeProof = Branch[];

/** Where a prover's random values come from (tests replay the vectors' values). */
export interface RangeRandomness {
  /** c_j and z_j for a simulated branch j. */
  simulated(j: number): { c: bigint; z: bigint };
  /** u for the real branch. */
  real(): bigint;
}
export const freshRangeRandomness: RangeRandomness = {
  simulated: () => ({ c: randomScalar(), z: randomScalar() }),
  real: () => randomScalar(),
};

export const MAX_BRANCHES = 256;

function rangeBranches(lo: number, hi: number): number {
  const k = hi - lo + 1;
  if (!(lo >= 0 && hi >= lo && k >= 1 && k <= MAX_BRANCHES)) fail('out_of_bounds', `range ${lo}..${hi}`);
  return k;
}

export function rangeChallenge(
  F: Uint8Array,
  ctx: Uint8Array,
  K: Point,
  summands: Ciphertext[],
  lo: number,
  hi: number,
  commitments: { a: Point; b: Point }[],
): bigint {
  const fields: Field[] = [['fingerprint', F], ['context', ctx], elementField('key', K), u64Field('summands', summands.length)];
  for (const s of summands) fields.push(elementField('alpha', s.alpha), elementField('beta', s.beta));
  fields.push(u64Field('lo', lo), u64Field('hi', hi));
  for (const cm of commitments) fields.push(elementField('a', cm.a), elementField('b', cm.b));
  return challenge(frame('urna/v1/proof/range', fields));
}

/**
 * Proves that Σ summands encrypts `value` ∈ [lo, hi] with nonce r = Σ r_i.
 * Secret scalars go through noble's constant-time `multiply`; JavaScript
 * BigInt arithmetic itself is not constant time (accepted for a browser
 * client: the prover runs on the voter's own device).
 */
export function proveRange(
  F: Uint8Array,
  ctx: Uint8Array,
  K: Point,
  summands: Ciphertext[],
  lo: number,
  hi: number,
  value: number,
  r: bigint,
  rand: RangeRandomness = freshRangeRandomness,
): RangeProof {
  const k = rangeBranches(lo, hi);
  if (summands.length < 1) fail('shape_mismatch', 'a range proof needs at least one summand');
  if (value < lo || value > hi) fail('value_out_of_range', `${value} is not in ${lo}..${hi}`);
  const { alpha, beta } = sumCiphertexts(summands);
  prepare(K);
  const real = value - lo;
  const branches: Branch[] = [];
  let u = 0n;
  let simSum = 0n;
  for (let j = 0; j < k; j++) {
    if (j === real) {
      u = rand.real();
      branches.push({ a: mul(G, u), b: mul(K, u), c: 0n, z: 0n });
    } else {
      // A simulated branch uses only values the proof publishes (c_j, z_j, the
      // statement), so variable-time multiplication leaks nothing; the real
      // branch's u and r go through constant-time multiplication. Every proof
      // does one real and k − 1 simulated branches whatever the value.
      // A_j = z_j·G − c_j·α ; B_j = z_j·K − c_j·β + c_j·(lo + j)·H (Strauss–Shamir).
      const { c, z } = rand.simulated(j);
      branches.push({
        a: mulAddUnsafe(Point, [G, alpha], [mod(z), mod(-c)]),
        b: mulAddUnsafe(Point, [K, beta, H], [mod(z), mod(-c), mod(c * BigInt(lo + j))]),
        c,
        z,
      });
      simSum = mod(simSum + c);
    }
  }
  const c = rangeChallenge(F, ctx, K, summands, lo, hi, branches);
  const cr = mod(c - simSum);
  branches[real].c = cr;
  branches[real].z = mod(u + cr * r);
  return branches;
}

export function encodeRange(p: RangeProof): Uint8Array {
  return concat(...p.flatMap((b) => [enc(b.a), enc(b.b), scalarToBytes(b.c), scalarToBytes(b.z)]));
}
export function readRange(r: Reader, k: number): RangeProof {
  const out: RangeProof = [];
  for (let j = 0; j < k; j++) out.push({ a: readElement(r), b: readElement(r), c: readScalar(r), z: readScalar(r) });
  return out;
}
export function decodeRange(b: Uint8Array, lo: number, hi: number): RangeProof {
  const k = rangeBranches(lo, hi);
  const r = new Reader(b);
  const p = readRange(r, k);
  r.end();
  return p;
}

export function verifyRange(
  F: Uint8Array,
  ctx: Uint8Array,
  K: Point,
  summands: Ciphertext[],
  lo: number,
  hi: number,
  proof: RangeProof,
): void {
  const k = rangeBranches(lo, hi);
  if (proof.length !== k) fail('shape_mismatch', `expected ${k} branches`);
  if (summands.length < 1) fail('shape_mismatch', 'a range proof needs at least one summand');
  const { alpha, beta } = sumCiphertexts(summands);
  const c = rangeChallenge(F, ctx, K, summands, lo, hi, proof);
  let sum = 0n;
  for (const b of proof) sum = mod(sum + b.c);
  if (sum !== c) invalid('range proof (challenge sum)');
  proof.forEach((br, j) => {
    // A_j + c_j·α − z_j·G = 0 ; B_j + c_j·β − c_j·(lo+j)·H − z_j·K = 0
    const nz = L - br.z;
    if (!isZeroSum([br.a, alpha, G], [1n, br.c, nz])) invalid('range proof');
    if (!isZeroSum([br.b, beta, H, K], [1n, br.c, mod(-br.c * BigInt(lo + j)), nz])) invalid('range proof');
  });
}

// ---- §6.5 credential signatures ----

export interface Signature {
  commitment: Point;
  response: bigint;
}
export function signatureChallenge(F: Uint8Array, P: Point, R: Point, msg: Uint8Array): bigint {
  return challenge(
    frame('urna/v1/signature', [['fingerprint', F], elementField('credential', P), elementField('commitment', R), ['message', msg]]),
  );
}
export function signatureNonce(x: bigint, rho: Uint8Array, msg: Uint8Array): bigint {
  return challenge(frame('urna/v1/signature/nonce', [scalarField('secret', x), ['random', rho], ['message', msg]]));
}
export function sign(F: Uint8Array, x: bigint, msg: Uint8Array, rho: Uint8Array = randomBytes(32)): Signature {
  if (mod(x) === 0n) fail('identity_element', 'the credential secret is zero');
  const P = mul(G, x);
  const k = signatureNonce(x, rho, msg);
  const R = mul(G, k);
  const e = signatureChallenge(F, P, R, msg);
  return { commitment: R, response: mod(k + e * x) };
}
export const encodeSignature = (s: Signature): Uint8Array => concat(enc(s.commitment), scalarToBytes(s.response));
export function readSignature(r: Reader): Signature {
  return { commitment: readElement(r), response: readScalar(r) };
}
export function decodeSignature(b: Uint8Array): Signature {
  const r = new Reader(b);
  const s = readSignature(r);
  r.end();
  return s;
}
export function verifySignature(F: Uint8Array, P: Point, msg: Uint8Array, s: Signature): void {
  if (P.is0()) fail('identity_element', 'the credential is the identity');
  const e = signatureChallenge(F, P, s.commitment, msg);
  if (!isZeroSum([s.commitment, P, G], [1n, e, L - s.response])) invalid('signature');
}
