// Byte helpers and the strict reader of spec/crypto.md §2.3–§2.4.

/** A rejection with a stable spec error code (crypto.md §2.6). */
export class UrnaError extends Error {
  readonly code: string;
  constructor(code: string, message?: string) {
    super(message ?? code);
    this.code = code;
    this.name = 'UrnaError';
  }
}

export function fail(code: string, message?: string): never {
  throw new UrnaError(code, message);
}

const HEX = '0123456789abcdef';

export function toHex(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += HEX[b[i] >> 4] + HEX[b[i] & 15];
  return s;
}

/** Strict lower-case hex (§2.4); `len`, when given, is the byte length required. */
export function fromHex(s: string, len?: number): Uint8Array {
  if (typeof s !== 'string' || s.length % 2 !== 0 || !/^[0-9a-f]*$/.test(s)) fail('hex', 'not lower-case hex');
  if (len !== undefined && s.length !== 2 * len) fail('hex', `expected ${len} bytes of hex`);
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.substr(2 * i, 2), 16);
  return out;
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

export const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

export function u8(v: number): Uint8Array {
  return Uint8Array.of(v & 0xff);
}
export function u16(v: number): Uint8Array {
  return Uint8Array.of((v >>> 8) & 0xff, v & 0xff);
}
export function u32(v: number): Uint8Array {
  return Uint8Array.of((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
}
export function u64(v: bigint | number): Uint8Array {
  let x = BigInt(v);
  const out = new Uint8Array(8);
  for (let i = 7; i >= 0; i--) {
    out[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  return out;
}

/** Reads a structure field by field (§2.3): `truncated` when short, `trailing_bytes` when left over. */
export class Reader {
  private pos = 0;
  constructor(private readonly buf: Uint8Array) {}
  get offset(): number {
    return this.pos;
  }
  remaining(): number {
    return this.buf.length - this.pos;
  }
  bytes(n: number): Uint8Array {
    if (n > this.buf.length - this.pos) fail('truncated', 'input ends too early');
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  u8(): number {
    return this.bytes(1)[0];
  }
  u16(): number {
    const b = this.bytes(2);
    return (b[0] << 8) | b[1];
  }
  u32(): number {
    const b = this.bytes(4);
    return ((b[0] << 24) >>> 0) + (b[1] << 16) + (b[2] << 8) + b[3];
  }
  u64(): bigint {
    const b = this.bytes(8);
    let v = 0n;
    for (const x of b) v = (v << 8n) | BigInt(x);
    return v;
  }
  /** A length-prefixed field with a maximum length (`out_of_bounds` above it). */
  bytes32(max: number): Uint8Array {
    const n = this.u32();
    if (n > max) fail('out_of_bounds', `field of ${n} bytes exceeds ${max}`);
    return this.bytes(n);
  }
  end(): void {
    if (this.pos !== this.buf.length) fail('trailing_bytes', `${this.buf.length - this.pos} bytes left over`);
  }
}
