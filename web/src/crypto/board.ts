// The board's verification side (spec/board.md): RFC 9162 Merkle proofs
// (§B2, §B4), entry envelopes (§B5), checkpoints (§B6) and C2SP signed
// notes with Ed25519 (§B7).
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { concat, equalBytes, fail, fromHex, toHex, u16, u32, u8, utf8 } from './bytes.js';

export const EMPTY_ROOT = sha256(new Uint8Array(0));
export const MAX_TREE_SIZE = 2n ** 63n;
export const KIND_BALLOT = 0x0201;
export const KIND_AUDITED_BALLOT = 0x0202;

export const leafHash = (entry: Uint8Array): Uint8Array => sha256(concat(u8(0), entry));
export const nodeHash = (l: Uint8Array, r: Uint8Array): Uint8Array => sha256(concat(u8(1), l, r));

/** §B5.1 envelope. */
export function envelope(kind: number, payload: Uint8Array): Uint8Array {
  if (payload.length > 65528) fail('out_of_bounds', 'payload too long for one entry');
  return concat(u8(1), u16(kind), u32(payload.length), payload);
}
export function parseEnvelope(entry: Uint8Array): { kind: number; payload: Uint8Array } {
  if (entry.length < 7) fail('truncated', 'an entry has at least 7 bytes');
  if (entry[0] !== 1) fail('unknown_version', 'entry version');
  const kind = (entry[1] << 8) | entry[2];
  const len = ((entry[3] << 24) >>> 0) + (entry[4] << 16) + (entry[5] << 8) + entry[6];
  if (len > 65528) fail('out_of_bounds', 'payload too long');
  if (entry.length < 7 + len) fail('truncated', 'payload shorter than its length');
  if (entry.length > 7 + len) fail('trailing_bytes', 'bytes after the payload');
  return { kind, payload: entry.subarray(7) };
}

const largestPow2Below = (n: bigint): bigint => {
  let k = 1n;
  while (k << 1n < n) k <<= 1n;
  return k;
};

/** The number of hashes §B4.2 prescribes for leaf m of a tree of size n. */
export function inclusionProofLength(m: bigint, n: bigint): number {
  let len = 0;
  while (n > 1n) {
    const k = largestPow2Below(n);
    if (m < k) n = k;
    else {
      m -= k;
      n -= k;
    }
    len++;
  }
  return len;
}

/** §B4.4. Returns true iff the proof is valid for (h, m, n, root). */
export function verifyInclusion(h: Uint8Array, index: bigint | number, size: bigint | number, proof: Uint8Array[], root: Uint8Array): boolean {
  const m = BigInt(index);
  const n = BigInt(size);
  if (n > MAX_TREE_SIZE || m < 0n || m >= n) return false;
  if (proof.length !== inclusionProofLength(m, n)) return false;
  let fn = m;
  let sn = n - 1n;
  let r = h;
  for (const p of proof) {
    if (sn === 0n) return false;
    if ((fn & 1n) === 1n || fn === sn) {
      r = nodeHash(p, r);
      if ((fn & 1n) === 0n) while ((fn & 1n) === 0n && fn !== 0n) {
        fn >>= 1n;
        sn >>= 1n;
      }
    } else r = nodeHash(r, p);
    fn >>= 1n;
    sn >>= 1n;
  }
  return sn === 0n && equalBytes(r, root);
}

/** The number of hashes §B4.3 prescribes for sizes 0 < m < n. */
export function consistencyProofLength(m: bigint, n: bigint): number {
  const sub = (m: bigint, n: bigint, b: boolean): number => {
    if (m === n) return b ? 0 : 1;
    const k = largestPow2Below(n);
    return m <= k ? sub(m, k, b) + 1 : sub(m - k, n - k, false) + 1;
  };
  return m === 0n || m === n ? 0 : sub(m, n, true);
}

/** §B4.5. */
export function verifyConsistency(size1: bigint | number, size2: bigint | number, proof: Uint8Array[], root1: Uint8Array, root2: Uint8Array): boolean {
  const m = BigInt(size1);
  const n = BigInt(size2);
  if (n > MAX_TREE_SIZE || m > n || m < 0n) return false;
  if (proof.length !== consistencyProofLength(m, n)) return false;
  if (m === 0n) return proof.length === 0 && equalBytes(root1, EMPTY_ROOT);
  if (m === n) return proof.length === 0 && equalBytes(root1, root2);
  let p = proof;
  if ((m & (m - 1n)) === 0n) p = [root1, ...p];
  let fn = m - 1n;
  let sn = n - 1n;
  while ((fn & 1n) === 1n) {
    fn >>= 1n;
    sn >>= 1n;
  }
  let fr = p[0];
  let sr = p[0];
  for (const c of p.slice(1)) {
    if (sn === 0n) return false;
    if ((fn & 1n) === 1n || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if ((fn & 1n) === 0n) while ((fn & 1n) === 0n && fn !== 0n) {
        fn >>= 1n;
        sn >>= 1n;
      }
    } else sr = nodeHash(sr, c);
    fn >>= 1n;
    sn >>= 1n;
  }
  return sn === 0n && equalBytes(fr, root1) && equalBytes(sr, root2);
}

/** Merkle tree hash of leaf hashes (§B2.2), for tests and small trees. */
export function treeHash(leaves: Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return EMPTY_ROOT;
  if (leaves.length === 1) return leaves[0];
  const k = Number(largestPow2Below(BigInt(leaves.length)));
  return nodeHash(treeHash(leaves.slice(0, k)), treeHash(leaves.slice(k)));
}
/** Inclusion path of §B4.2 over leaf hashes, for tests. */
export function inclusionPath(m: number, leaves: Uint8Array[]): Uint8Array[] {
  if (leaves.length <= 1) return [];
  const k = Number(largestPow2Below(BigInt(leaves.length)));
  return m < k
    ? [...inclusionPath(m, leaves.slice(0, k)), treeHash(leaves.slice(k))]
    : [...inclusionPath(m - k, leaves.slice(k)), treeHash(leaves.slice(0, k))];
}

// ---- base64 (canonical only) ----

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
export function base64Encode(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i += 3) {
    const n = (b[i] << 16) | ((b[i + 1] ?? 0) << 8) | (b[i + 2] ?? 0);
    s += B64[(n >> 18) & 63] + B64[(n >> 12) & 63];
    s += i + 1 < b.length ? B64[(n >> 6) & 63] : '=';
    s += i + 2 < b.length ? B64[n & 63] : '=';
  }
  return s;
}
/** Decodes base64 and rejects anything an encoder would not produce. */
export function base64Decode(s: string): Uint8Array {
  if (s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) fail('base64', 'not canonical base64');
  const pad = s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0;
  const out = new Uint8Array((s.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < s.length; i += 4) {
    const v = [0, 1, 2, 3].map((j) => (s[i + j] === '=' ? 0 : B64.indexOf(s[i + j])));
    const n = (v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3];
    for (const byte of [(n >> 16) & 255, (n >> 8) & 255, n & 255]) if (o < out.length) out[o++] = byte;
  }
  if (base64Encode(out) !== s) fail('base64', 'not canonical base64');
  return out;
}

// ---- §B6 checkpoints ----

export interface Checkpoint {
  origin: string;
  size: bigint;
  root: Uint8Array;
  extensions: string[];
}

const NAME_OK = (s: string): boolean => s.length > 0 && !/[\s+\u0000-\u001f\u007f]/u.test(s);

export function parseCheckpoint(body: string): Checkpoint {
  if (!body.endsWith('\n') || body.includes('\r')) fail('bad_checkpoint', 'a checkpoint ends with a newline and has no CR');
  const lines = body.slice(0, -1).split('\n');
  if (lines.length < 3) fail('bad_checkpoint', 'a checkpoint has at least three lines');
  const [origin, size, root, ...extensions] = lines;
  if (!NAME_OK(origin)) fail('bad_checkpoint', 'bad origin');
  if (!/^(0|[1-9][0-9]*)$/.test(size) || BigInt(size) > MAX_TREE_SIZE) fail('bad_checkpoint', 'bad size');
  const r = base64Decode(root);
  if (r.length !== 32) fail('bad_checkpoint', 'the root is not 32 bytes');
  for (const e of extensions) if (e.length === 0 || /[\u0000-\u001f\u007f]/.test(e)) fail('bad_checkpoint', 'bad extension line');
  return { origin, size: BigInt(size), root: r, extensions };
}

// ---- §B7 signed notes ----

export interface VerifierKey {
  name: string;
  keyId: Uint8Array;
  type: number;
  publicKey: Uint8Array;
}

export function keyId(name: string, type: number, publicKey: Uint8Array): Uint8Array {
  return sha256(concat(utf8(name), u8(0x0a), u8(type), publicKey)).subarray(0, 4);
}

function isSmallOrder(pub: Uint8Array): boolean {
  try {
    return ed25519.Point.fromBytes(pub).isSmallOrder();
  } catch {
    return true;
  }
}

/** `<name>+<hex8 key id>+<base64(type ‖ key)>`, exactly (§B7.2). */
export function parseVerifierKey(s: string): VerifierKey {
  const parts = s.split('+');
  // base64 may itself contain '+': name and key id are the first two parts.
  if (parts.length < 3) fail('bad_key', 'a verifier key is name+keyid+key');
  const name = parts[0];
  const idHex = parts[1];
  const raw = base64Decode(parts.slice(2).join('+'));
  if (!NAME_OK(name) || !/^[0-9a-f]{8}$/.test(idHex)) fail('bad_key', 'bad name or key id');
  if (raw.length !== 33 || (raw[0] !== 0x01 && raw[0] !== 0x04)) fail('bad_key', 'unknown key type or length');
  const type = raw[0];
  const publicKey = raw.subarray(1);
  if (isSmallOrder(publicKey)) fail('bad_key', 'invalid or small-order public key');
  const id = keyId(name, type, publicKey);
  if (toHex(id) !== idHex) fail('bad_key', 'the key id does not match');
  return { name, keyId: id, type, publicKey };
}

export interface NoteSignature {
  name: string;
  keyId: Uint8Array;
  sig: Uint8Array;
}
export interface Note {
  text: string;
  signatures: NoteSignature[];
}

export function parseNote(note: string): Note {
  if (new TextEncoder().encode(note).length > 65536) fail('bad_note', 'note too long');
  if (/[\u0000-\u0009\u000b-\u001f\u007f]/.test(note)) fail('bad_note', 'control character');
  const split = note.lastIndexOf('\n\n');
  if (split < 0 || !note.endsWith('\n')) fail('bad_note', 'no signature block');
  const text = note.slice(0, split + 1);
  const sigLines = note.slice(split + 2, -1).split('\n');
  if (text.length === 0) fail('bad_note', 'empty text');
  if (sigLines.length < 1 || sigLines.length > 100) fail('bad_note', 'between 1 and 100 signatures');
  const signatures = sigLines.map((line) => {
    const m = /^\u2014 ([^ ]+) ([A-Za-z0-9+/=]+)$/.exec(line);
    if (!m || !NAME_OK(m[1])) fail('bad_note', 'malformed signature line');
    const raw = base64Decode(m[2]);
    if (raw.length < 5) fail('bad_note', 'signature too short');
    return { name: m[1], keyId: raw.subarray(0, 4), sig: raw.subarray(4) };
  });
  return { text, signatures };
}

/**
 * §B7.5 for a board checkpoint: the board key's (type 0x01) signature must
 * be present and valid, and the key's name must equal the origin.
 */
export function verifyCheckpointNote(note: string, boardKey: VerifierKey): Checkpoint {
  if (boardKey.type !== 0x01) fail('bad_key', 'the board key is a type 0x01 key');
  const n = parseNote(note);
  let signed = false;
  for (const s of n.signatures) {
    if (s.name !== boardKey.name || !equalBytes(s.keyId, boardKey.keyId)) continue;
    if (s.sig.length !== 64 || isSmallOrder(s.sig.subarray(0, 32)) || !ed25519.verify(s.sig, utf8(n.text), boardKey.publicKey, { zip215: false }))
      fail('bad_signature', 'the board signature on the checkpoint does not verify');
    signed = true;
  }
  if (!signed) fail('bad_signature', 'the checkpoint is not signed by the board key');
  const cp = parseCheckpoint(n.text);
  if (cp.origin !== boardKey.name) fail('bad_checkpoint', 'the origin is not the board key name');
  return cp;
}

export interface ReceiptJson {
  tracking: string;
  kind: string;
  index: number;
  leaf_hash: string;
  tree_size: number;
  inclusion_proof: string[];
  checkpoint: string;
}

export interface ReceiptCheck {
  checkpoint: Checkpoint;
  leafHash: Uint8Array;
}

/**
 * Checks a receipt (spec/api.md §A4.1): the checkpoint is signed by the
 * board key, its size is the receipt's, the entry made of `payload` (the
 * ballot bytes, or the audited_ballot payload) hashes to the receipt's leaf
 * and is included at `index` under the checkpoint's root.
 */
export function verifyReceipt(r: ReceiptJson, boardKey: VerifierKey, entryBytes: Uint8Array): ReceiptCheck {
  const cp = verifyCheckpointNote(r.checkpoint, boardKey);
  if (cp.size !== BigInt(r.tree_size)) fail('bad_receipt', 'the checkpoint is for another tree size');
  const lh = leafHash(entryBytes);
  if (toHex(lh) !== r.leaf_hash) fail('bad_receipt', 'the entry does not hash to the receipt leaf');
  const proof = r.inclusion_proof.map((h) => fromHex(h, 32));
  if (!verifyInclusion(lh, BigInt(r.index), cp.size, proof, cp.root)) fail('bad_receipt', 'the inclusion proof does not verify');
  return { checkpoint: cp, leafHash: lh };
}
