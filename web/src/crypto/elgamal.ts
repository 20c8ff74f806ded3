// Exponential ElGamal (crypto.md §4) and bounded discrete log (§5).
import { fail, Reader, concat } from './bytes.js';
import { G, H, Point, enc, mul, mulHSecret, mulPub, prepare, readElement, randomScalar } from './group.js';

export interface Ciphertext {
  alpha: Point;
  beta: Point;
}

/** Enc_K(m; r) = (r·G, m·H + r·K). */
export function encrypt(K: Point, m: number | bigint, r: bigint = randomScalar()): Ciphertext {
  return { alpha: mul(G, r), beta: mulHSecret(BigInt(m)).add(mul(prepare(K), r)) };
}

export function addCiphertexts(a: Ciphertext, b: Ciphertext): Ciphertext {
  return { alpha: a.alpha.add(b.alpha), beta: a.beta.add(b.beta) };
}
export function sumCiphertexts(cs: Ciphertext[]): Ciphertext {
  return cs.reduce(addCiphertexts, { alpha: Point.ZERO, beta: Point.ZERO });
}
export function reencrypt(K: Point, c: Ciphertext, r: bigint): Ciphertext {
  return { alpha: c.alpha.add(mul(G, r)), beta: c.beta.add(mul(K, r)) };
}
/** β − s·α = m·H. */
export function decryptToElement(s: bigint, c: Ciphertext): Point {
  return c.beta.subtract(mul(c.alpha, s));
}

export const encodeCiphertext = (c: Ciphertext): Uint8Array => concat(enc(c.alpha), enc(c.beta));

/** §4.5: α not the identity, β any element. */
export function readCiphertext(r: Reader): Ciphertext {
  const alpha = readElement(r, false);
  const beta = readElement(r, true);
  return { alpha, beta };
}
export function decodeCiphertext(b: Uint8Array): Ciphertext {
  const r = new Reader(b);
  const c = readCiphertext(r);
  r.end();
  return c;
}

/** §4.1: K must not be the identity. */
export function checkPublicKey(K: Point): Point {
  if (K.is0()) fail('identity_element', 'the election key is the identity');
  return K;
}

/** §5: baby-step giant-step for 0 ≤ m ≤ bound; `dlog_not_found` otherwise. */
export function dlog(M: Point, bound: number): number {
  const w = Math.min(bound + 1, Math.max(Math.floor(Math.sqrt(bound + 1)) + 1, 4096));
  const table = new Map<string, number>();
  let P = Point.ZERO;
  for (let j = 0; j < w; j++) {
    table.set(P.toHex(), j);
    P = P.add(H);
  }
  const step = mulPub(H, BigInt(w)).negate();
  let cur = M;
  for (let i = 0; i <= Math.floor(bound / w); i++) {
    const j = table.get(cur.toHex());
    if (j !== undefined) {
      const m = i * w + j;
      if (m <= bound && mulPub(H, BigInt(m)).equals(M)) return m;
    }
    cur = cur.add(step);
  }
  fail('dlog_not_found', `no discrete log up to ${bound}`);
}
