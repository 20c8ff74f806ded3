// The last board checkpoint this device verified, per origin: every newer
// one must extend it (a consistency proof, spec/board.md §B4.5), so a board
// that rewrites its history after showing it to this device is caught.
import * as U from '../crypto/index.js';
import { boardApi } from './api.js';
import { t } from './i18n.js';

interface Seen {
  size: string;
  root: string;
}
const key = (origin: string) => `urna.checkpoint.${origin}`;

export interface ConsistencyResult {
  ok: boolean;
  text: string;
  /** This device had not seen the board before: nothing to compare with yet. */
  first?: boolean;
}

/**
 * What this device has seen, as stored now (every origin). A page that may
 * be rendered twice at once (two quick navigations) takes this when it is
 * entered and compares against it, so the second render does not compare
 * the board with what the first one just remembered.
 */
export function seenNow(): Map<string, string | null> {
  const out = new Map<string, string | null>();
  for (let i = 0; i < localStorage.length; i++) {
    const k = localStorage.key(i);
    if (k?.startsWith('urna.checkpoint.')) out.set(k, localStorage.getItem(k));
  }
  return out;
}

export async function checkAgainstSeen(cp: U.Checkpoint, baseline?: Map<string, string | null>): Promise<ConsistencyResult> {
  let seen: Seen | null = null;
  try {
    seen = JSON.parse((baseline ? baseline.get(key(cp.origin)) : localStorage.getItem(key(cp.origin))) ?? 'null');
  } catch {
    seen = null;
  }
  const remember = () => localStorage.setItem(key(cp.origin), JSON.stringify({ size: String(cp.size), root: U.toHex(cp.root) }));
  if (!seen) {
    remember();
    return { ok: true, first: true, text: t('board.first') };
  }
  const old = BigInt(seen.size);
  const oldRoot = U.fromHex(seen.root, 32);
  try {
    if (old > cp.size) U.fail('bad_checkpoint', `the board is smaller now (${cp.size})`);
    const proof = old === cp.size || old === 0n ? [] : (await boardApi.consistency(Number(old), Number(cp.size))).proof.map((h) => U.fromHex(h, 32));
    if (!U.verifyConsistency(old, cp.size, proof, oldRoot, cp.root)) U.fail('bad_proof', 'the consistency proof does not verify');
  } catch (e) {
    return { ok: false, text: t('board.inconsistent', { old: seen.size, message: (e as { code?: string }).code ?? 'bad_proof' }) };
  }
  remember();
  return { ok: true, text: t('board.consistent', { old: seen.size, new: String(cp.size) }) };
}
