// Threshold decryption, the public side (sections/08-09 §9): partial
// decryption encoding and verification, Lagrange coefficients, combination.
// Lets a results page re-check the published decryption in the browser.
import { Reader, concat, fail, u16, u8, utf8 } from './bytes.js';
import { Ciphertext, dlog } from './elgamal.js';
import { L, Point, mod, mulPub, readElement, mul } from './group.js';
import { DleqProof, encodeDleq, proveDleq, readDleq, verifyDleq } from './proofs.js';

export interface PartialDecryption {
  trustee: number;
  share: Point;
  proof: DleqProof;
}

export function partialContext(j: number, beta: Point, label: Uint8Array): Uint8Array {
  return concat(utf8('urna/v1/decrypt/partial'), u16(j), beta.toBytes(), label);
}

export function decodePartial(b: Uint8Array): PartialDecryption {
  const r = new Reader(b);
  const v = r.u8();
  if (v !== 1) fail('unknown_version', `partial decryption version ${v}`);
  const trustee = r.u16();
  if (trustee < 1 || trustee > 64) fail('out_of_bounds', `trustee index ${trustee}`);
  const share = readElement(r);
  const proof = readDleq(r);
  r.end();
  return { trustee, share, proof };
}
export const encodePartial = (p: PartialDecryption): Uint8Array =>
  concat(u8(1), u16(p.trustee), p.share.toBytes(), encodeDleq(p.proof));

export function partialDecrypt(F: Uint8Array, j: number, s: bigint, c: Ciphertext, label: Uint8Array, u?: bigint): PartialDecryption {
  return { trustee: j, share: mul(c.alpha, s), proof: proveDleq(F, partialContext(j, c.beta, label), c.alpha, s, u) };
}

/** §9.3: `bad_partial_decryption` when the DLEQ proof fails. */
export function verifyPartial(F: Uint8Array, c: Ciphertext, label: Uint8Array, Kj: Point, p: PartialDecryption): void {
  try {
    verifyDleq(F, partialContext(p.trustee, c.beta, label), c.alpha, Kj, p.share, p.proof);
  } catch (e) {
    if ((e as { code?: string }).code === 'invalid_proof') fail('bad_partial_decryption', `trustee ${p.trustee}'s partial decryption`);
    throw e;
  }
}

function inv(a: bigint): bigint {
  // a^(ℓ−2) mod ℓ
  let r = 1n;
  let b = mod(a);
  let e = L - 2n;
  while (e > 0n) {
    if (e & 1n) r = (r * b) % L;
    b = (b * b) % L;
    e >>= 1n;
  }
  return r;
}

/** λ_j = Π m/(m − j) at 0, in the order given. */
export function lagrange(indices: number[]): bigint[] {
  if (new Set(indices).size !== indices.length) fail('duplicate_trustee', 'a trustee index appears twice');
  if (indices.some((j) => j < 1)) fail('bad_trustee_index', 'trustee indices start at 1');
  return indices.map((j) => {
    let num = 1n;
    let den = 1n;
    for (const m of indices)
      if (m !== j) {
        num = mod(num * BigInt(m));
        den = mod(den * BigInt(m - j));
      }
    return mod(num * inv(den));
  });
}

/** §9.2 on verified partials: M = β − Σ λ_j·D_j, then m = dlog_H(M) ≤ bound. */
export function combine(t: number, c: Ciphertext, partials: PartialDecryption[], bound: number): { lagrange: bigint[]; combined: Point; plaintext: Point; value: number } {
  const idx = partials.map((p) => p.trustee);
  if (new Set(idx).size !== idx.length) fail('duplicate_trustee', 'a trustee index appears twice');
  if (partials.length < t) fail('not_enough_shares', `${partials.length} of ${t} partial decryptions`);
  const lam = lagrange(idx);
  const combined = partials.reduce((acc, p, i) => acc.add(mulPub(p.share, lam[i])), Point.ZERO);
  const plaintext = c.beta.subtract(combined);
  return { lagrange: lam, combined, plaintext, value: dlog(plaintext, bound) };
}
