// The browser trustee's key store (spec/trustee.md §T6): the trustee's
// secrets, sealed under a passphrase with PBKDF2-SHA256 and AES-256-GCM
// from WebCrypto, kept in this browser's localStorage and exportable to a
// file. Nothing here is ever sent to the server. WebCrypto has no Argon2
// and the project does not hand-write one (docs/decisions/0020-trustee-
// browser-key-store.md), hence PBKDF2 with a high iteration count.
import * as U from '../crypto/index.js';

export const FORMAT = 'urna-browser-trustee-v1';
/** OWASP's 2023 figure for PBKDF2-HMAC-SHA256. */
export const ITERATIONS = 600_000;
const MIN_ITERATIONS = 100_000;
const MAX_ITERATIONS = 10_000_000;

export type Phase = 'committed' | 'dealt' | 'received' | 'finished';

/** What the store says in clear: enough to name it without the passphrase (bound as AES-GCM associated data). */
export interface StoreHeader {
  format: typeof FORMAT;
  manifest_hash: string;
  trustee: number;
  n: number;
  t: number;
  phase: Phase;
  kdf: { name: 'PBKDF2'; hash: 'SHA-256'; iterations: number; salt: string };
  cipher: { name: 'AES-GCM'; iv: string };
}
export interface StoreFile extends StoreHeader {
  ciphertext: string;
}

/** The sealed state (spec/trustee.md §T6.2); scalars are hex of their §2.1 encodings. */
export interface Secrets {
  token: string;
  /** x_i, the share key secret (until `finished`). */
  x?: string;
  /** a_{i,0..t−1} (only while `committed`). */
  a?: string[];
  /** σ_{i,i} (from `dealt` until `finished`). */
  sigma?: string;
  /** Own messages as posted (§R3 payload hex): kept to post the same bytes again. */
  round1?: string;
  round2?: string;
  complaints?: string[];
  /** s_j and the public outcome (once `finished`). */
  s?: string;
  joint_key?: string;
  verification_key?: string;
  qualified?: number[];
}

const b64 = (b: Uint8Array): string => U.base64Encode(b);
const unb64 = (s: string): Uint8Array => U.base64Decode(s);
const storageKey = (manifestHash: string) => `urna.trustee.${manifestHash}`;

function headerBytes(h: StoreHeader): Uint8Array {
  // Field order fixed here, not by the file's JSON, so a re-ordered file still opens.
  const { format, manifest_hash, trustee, n, t, phase, kdf, cipher } = h;
  return U.utf8(JSON.stringify({ format, manifest_hash, trustee, n, t, phase, kdf, cipher }));
}

async function deriveKey(passphrase: string, salt: Uint8Array, iterations: number): Promise<CryptoKey> {
  const base = await crypto.subtle.importKey('raw', U.utf8(passphrase) as BufferSource, 'PBKDF2', false, ['deriveKey']);
  return crypto.subtle.deriveKey({ name: 'PBKDF2', hash: 'SHA-256', salt: salt as BufferSource, iterations }, base, { name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
}

/** An unlocked store: the derived (non-extractable) key stays in memory for this page only. */
export interface Unlocked {
  header: StoreHeader;
  secrets: Secrets;
  key: CryptoKey;
}

/** Seals `secrets` with a fresh IV (every write), keeping the store's salt and key. */
export async function seal(u: Unlocked, phase: Phase, secrets: Secrets): Promise<StoreFile> {
  const header: StoreHeader = { ...u.header, phase, cipher: { name: 'AES-GCM', iv: b64(U.randomBytes(12)) } };
  const plain = U.utf8(JSON.stringify(secrets));
  const ct = new Uint8Array(
    await crypto.subtle.encrypt({ name: 'AES-GCM', iv: unb64(header.cipher.iv) as BufferSource, additionalData: headerBytes(header) as BufferSource }, u.key, plain as BufferSource),
  );
  plain.fill(0);
  u.header = header;
  u.secrets = secrets;
  return { ...header, ciphertext: b64(ct) };
}

/** A new store (spec/trustee.md §T6.1): fresh salt, the passphrase's key. */
export async function create(passphrase: string, base: { manifest_hash: string; trustee: number; n: number; t: number }, secrets: Secrets): Promise<{ unlocked: Unlocked; file: StoreFile }> {
  if (passphrase.length < 12) U.fail('weak_passphrase', 'the passphrase has fewer than 12 characters');
  const salt = U.randomBytes(16);
  const key = await deriveKey(passphrase, salt, ITERATIONS);
  const header: StoreHeader = {
    format: FORMAT,
    ...base,
    phase: 'committed',
    kdf: { name: 'PBKDF2', hash: 'SHA-256', iterations: ITERATIONS, salt: b64(salt) },
    cipher: { name: 'AES-GCM', iv: '' },
  };
  const unlocked: Unlocked = { header, secrets, key };
  const file = await seal(unlocked, 'committed', secrets);
  return { unlocked, file };
}

/** Strict reading of a store file's clear part (§T6.1); `bad_key_file` otherwise. */
export function parseFile(text: string): StoreFile {
  let j: any;
  try {
    j = JSON.parse(text);
  } catch {
    U.fail('bad_key_file', 'not JSON');
  }
  const hex32 = (s: unknown) => typeof s === 'string' && /^[0-9a-f]{64}$/.test(s);
  const int = (v: unknown, lo: number, hi: number) => Number.isInteger(v) && (v as number) >= lo && (v as number) <= hi;
  const ok =
    j &&
    j.format === FORMAT &&
    hex32(j.manifest_hash) &&
    int(j.n, 1, 64) &&
    int(j.t, 1, j.n) &&
    int(j.trustee, 1, j.n) &&
    ['committed', 'dealt', 'received', 'finished'].includes(j.phase) &&
    j.kdf?.name === 'PBKDF2' &&
    j.kdf?.hash === 'SHA-256' &&
    int(j.kdf?.iterations, MIN_ITERATIONS, MAX_ITERATIONS) &&
    typeof j.kdf?.salt === 'string' &&
    j.cipher?.name === 'AES-GCM' &&
    typeof j.cipher?.iv === 'string' &&
    typeof j.ciphertext === 'string';
  if (!ok) U.fail('bad_key_file', 'not an urna browser trustee key file');
  try {
    if (unb64(j.kdf.salt).length !== 16 || unb64(j.cipher.iv).length !== 12 || unb64(j.ciphertext).length < 17) U.fail('bad_key_file', 'bad lengths');
  } catch {
    U.fail('bad_key_file', 'bad base64 or lengths');
  }
  return j as StoreFile;
}

/** Opens a store; `wrong_passphrase` when AES-GCM refuses (a changed header fails the same way). */
export async function unlock(file: StoreFile, passphrase: string): Promise<Unlocked> {
  const key = await deriveKey(passphrase, unb64(file.kdf.salt), file.kdf.iterations);
  let plain: Uint8Array;
  try {
    plain = new Uint8Array(
      await crypto.subtle.decrypt({ name: 'AES-GCM', iv: unb64(file.cipher.iv) as BufferSource, additionalData: headerBytes(file) as BufferSource }, key, unb64(file.ciphertext) as BufferSource),
    );
  } catch {
    U.fail('wrong_passphrase', 'the passphrase does not open this key file');
  }
  const secrets = JSON.parse(new TextDecoder().decode(plain)) as Secrets;
  plain.fill(0);
  const { ciphertext: _c, ...header } = file;
  return { header, secrets, key };
}

export function load(manifestHash: string): StoreFile | null {
  const text = localStorage.getItem(storageKey(manifestHash));
  return text ? parseFile(text) : null;
}
export function save(file: StoreFile): void {
  localStorage.setItem(storageKey(file.manifest_hash), JSON.stringify(file));
}
export function remove(manifestHash: string): void {
  localStorage.removeItem(storageKey(manifestHash));
}

/** Offers the sealed file for download (it is as safe as its passphrase). */
export function download(file: StoreFile): void {
  const blob = new Blob([JSON.stringify(file, null, 1)], { type: 'application/json' });
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = `urna-trustee-${file.trustee}-${file.manifest_hash.slice(0, 8)}.json`;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}
