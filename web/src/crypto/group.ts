// ristretto255 scalars and elements (crypto.md §2.1, §2.2, §2.5) and the
// framed transcript (§3). All curve arithmetic is @noble/curves.
import { ristretto255, ristretto255_hasher } from '@noble/curves/ed25519.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { fail, Reader, u32, u64, utf8, concat } from './bytes.js';

export const Point = ristretto255.Point;
export type Point = InstanceType<typeof ristretto255.Point>;

/** ℓ, the group order. */
export const L = 2n ** 252n + 27742317777372353535851937790883648493n;

export const mod = (a: bigint): bigint => {
  const r = a % L;
  return r < 0n ? r + L : r;
};

export function scalarToBytes(s: bigint): Uint8Array {
  const out = new Uint8Array(32);
  let x = mod(s);
  for (let i = 0; i < 32; i++) {
    out[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  return out;
}

function leToBigint(b: Uint8Array): bigint {
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
  return v;
}

/** §2.1: 32 bytes little-endian, `non_canonical_scalar` when ≥ ℓ. */
export function decodeScalar(b: Uint8Array): bigint {
  if (b.length !== 32) fail(b.length < 32 ? 'truncated' : 'trailing_bytes', 'a scalar is 32 bytes');
  const v = leToBigint(b);
  if (v >= L) fail('non_canonical_scalar', 'scalar is not below the group order');
  return v;
}

/** §2.2: canonical ristretto255 decoding; `identity_element` where forbidden. */
export function decodeElement(b: Uint8Array, identityAllowed = true): Point {
  if (b.length !== 32) fail(b.length < 32 ? 'truncated' : 'trailing_bytes', 'an element is 32 bytes');
  let p: Point;
  try {
    p = Point.fromBytes(b);
  } catch {
    fail('non_canonical_element', 'not a canonical ristretto255 encoding');
  }
  encodings.set(p, Uint8Array.from(b));
  if (!identityAllowed && p.is0()) fail('identity_element', 'the identity is not allowed here');
  return p;
}

const encodings = new WeakMap<Point, Uint8Array>();
/** The §2.2 encoding, memoised per point object (encoding costs a field inversion). */
export function enc(p: Point): Uint8Array {
  let b = encodings.get(p);
  if (!b) {
    b = p.toBytes();
    encodings.set(p, b);
  }
  return b;
}

const prepared = new WeakSet<Point>();
/** Precomputes a window table for a point used in many multiplications (the election key). */
export function prepare(p: Point): Point {
  if (!prepared.has(p) && !p.is0()) {
    p.precompute(6, false);
    prepared.add(p);
  }
  return p;
}

/** m·H for a secret small m, without a branch on m = 0. */
export function mulHSecret(m: bigint): Point {
  return H.multiply(mod(m) + 1n).subtract(H);
}

export function readScalar(r: Reader): bigint {
  return decodeScalar(r.bytes(32));
}
export function readElement(r: Reader, identityAllowed = true): Point {
  return decodeElement(r.bytes(32), identityAllowed);
}

/** s·P for any s (0 allowed), constant-time ladder of noble for secrets. */
export function mul(p: Point, s: bigint): Point {
  const x = mod(s);
  return x === 0n ? Point.ZERO : p.multiply(x);
}
/** s·P for public scalars (variable time). */
export function mulPub(p: Point, s: bigint): Point {
  return p.multiplyUnsafe(mod(s));
}

/** Uniform scalar from crypto.getRandomValues (64 bytes, wide reduction). */
export function randomScalar(): bigint {
  const b = new Uint8Array(64);
  crypto.getRandomValues(b);
  return mod(leToBigint(b));
}
export function randomBytes(n: number): Uint8Array {
  const b = new Uint8Array(n);
  crypto.getRandomValues(b);
  return b;
}

// ---- §3 transcript ----

export type Field = [label: string, data: Uint8Array];

/** §3.1 framing. */
export function frame(domain: string, fields: Field[]): Uint8Array {
  const parts: Uint8Array[] = [];
  const d = utf8(domain);
  parts.push(u32(d.length), d);
  for (const [label, data] of fields) {
    const l = utf8(label);
    parts.push(u32(l.length), l, u32(data.length), data);
  }
  return concat(...parts);
}

export const digest64 = (t: Uint8Array): Uint8Array => sha512(t);
export const digest32 = (t: Uint8Array): Uint8Array => sha512(t).subarray(0, 32);
/** §3.2 wide reduction. */
export const challenge = (t: Uint8Array): bigint => mod(leToBigint(sha512(t)));
export const scalarField = (label: string, s: bigint): Field => [label, scalarToBytes(s)];
export const elementField = (label: string, p: Point): Field => [label, enc(p)];
export const u64Field = (label: string, v: number | bigint): Field => [label, u64(v)];

/** §3.5 fingerprints. */
export function fingerprintCeremony(manifestHash: Uint8Array): Uint8Array {
  return digest32(frame('urna/v1/fingerprint/ceremony', [['manifest_hash', manifestHash]]));
}
export function fingerprintElection(manifestHash: Uint8Array, jointKey: Point): Uint8Array {
  return digest32(
    frame('urna/v1/fingerprint/election', [
      ['manifest_hash', manifestHash],
      ['joint_key', enc(jointKey)],
    ]),
  );
}

// ---- §2.5 generators ----

export function generatorTranscript(label: string): Uint8Array {
  return frame('urna/v1/generator', [['label', utf8(label)]]);
}
export function deriveGenerator(label: string): Point {
  return fromUniformBytes(sha512(generatorTranscript(label)));
}
/** RFC 9496 §4.3.4 one-way map of 64 uniform bytes. */
export function fromUniformBytes(b: Uint8Array): Point {
  return ristretto255_hasher.deriveToCurve!(b) as Point;
}

export const G: Point = Point.BASE;
export const H: Point = deriveGenerator('urna/v1/elgamal/message');
H.precompute(8, false);
