// spec/export.md §X1/§X3 and board.md §B5.3, §B7: the board key, the final
// checkpoint, earlier checkpoints (files and `cosigned_checkpoint` entries)
// and observers' cosignatures (§B7.4).
import { ed25519 } from '@noble/curves/ed25519.js';
import { concat, equalBytes, fail, utf8 } from '../crypto/bytes.js';
import { Checkpoint, VerifierKey, parseNote, parseVerifierKey, verifyCheckpointNote } from '../crypto/board.js';

/** §X1: one line, optionally ending in one `\n`; anything else makes the record unusable. */
export function readBoardKey(text: string): VerifierKey {
  const line = text.endsWith('\n') ? text.slice(0, -1) : text;
  if (/[\u0000-\u001f\u007f]/.test(line)) fail('bad_key', 'board-key.txt is not one line ending in at most one \\n');
  return parseVerifierKey(line);
}

/** §X1: `<size>.txt`, size in decimal without sign or leading zero. */
export function checkpointFileSize(name: string): number | null {
  const m = /^(0|[1-9][0-9]{0,15})\.txt$/.exec(name);
  return m ? Number(m[1]) : null;
}

export { verifyCheckpointNote };
export type { Checkpoint };

/** A checkpoint that must be a prefix of the final tree (§X3). */
export interface EarlierCheckpoint {
  what: string;
  entry: number | null;
  size: number;
  root: Uint8Array;
}

/** Reads a checkpoint file or entry; throws with the reason it is not a board checkpoint. */
export function readEarlier(note: string, key: VerifierKey, what: string, entry: number | null): EarlierCheckpoint {
  const cp = verifyCheckpointNote(note, key);
  if (cp.size > BigInt(Number.MAX_SAFE_INTEGER)) fail('bad_checkpoint', 'size too large');
  return { what, entry, size: Number(cp.size), root: cp.root };
}

/** Decodes a `cosigned_checkpoint` payload strictly as UTF-8 text. */
export function noteText(payload: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(payload);
  } catch {
    return fail('bad_note', 'the payload is not UTF-8');
  }
}

const MAX_TIMESTAMP = 2n ** 63n - 1n;

function isSmallOrder(b: Uint8Array): boolean {
  try {
    return ed25519.Point.fromBytes(b).isSmallOrder();
  } catch {
    return true;
  }
}

function verifyCosignature(text: string, key: VerifierKey, raw: Uint8Array): boolean {
  if (raw.length !== 72) return false;
  let ts = 0n;
  for (const b of raw.subarray(0, 8)) ts = (ts << 8n) | BigInt(b);
  if (ts > MAX_TIMESTAMP) return false;
  const sig = raw.subarray(8);
  const msg = concat(utf8(`cosignature/v1\ntime ${ts}\n`), utf8(text));
  return !isSmallOrder(sig.subarray(0, 32)) && ed25519.verify(sig, msg, key.publicKey, { zip215: false });
}

/** export.md §X3.1: whether a note carries a line by `key` and whether every such line verifies. */
export function cosignedBy(note: string, key: VerifierKey): 'valid' | 'missing' | 'invalid' {
  const n = parseNote(note);
  const lines = n.signatures.filter((s) => s.name === key.name && equalBytes(s.keyId, key.keyId));
  if (lines.length === 0) return 'missing';
  return lines.every((s) => verifyCosignature(n.text, key, s.sig)) ? 'valid' : 'invalid';
}

/** A trusted observer key (type 0x04, board.md §B7.2), as given to the verifier. */
export function readObserverKey(text: string): VerifierKey {
  const k = parseVerifierKey(text.trim());
  if (k.type !== 0x04) fail('bad_key', `${k.name} is not an observer (type 0x04) key`);
  return k;
}

/**
 * §B7.4–§B7.5 for a note's cosignature lines by the given observer keys:
 * the number of listed observers whose line verifies, and the number of
 * lines that are not the board's. Throws if a listed observer's line fails.
 */
export function cosigners(note: string, board: VerifierKey, observers: VerifierKey[]): { valid: number; lines: number } {
  const n = parseNote(note);
  let valid = 0;
  let lines = 0;
  for (const s of n.signatures) {
    if (s.name === board.name && equalBytes(s.keyId, board.keyId)) continue;
    lines++;
    const k = observers.find((o) => o.name === s.name && equalBytes(o.keyId, s.keyId));
    if (!k) continue;
    if (!verifyCosignature(n.text, k, s.sig)) fail('bad_signature', `${s.name}: the cosignature does not verify`);
    valid++;
  }
  return { valid, lines };
}
