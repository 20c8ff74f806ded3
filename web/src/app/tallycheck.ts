// What a browser trustee checks before it decrypts anything
// (spec/trustee.md §T1.1, §T6.3): the board's entries up to a checkpoint
// signed by the board key, checked by boardcheck.ts against the trustee's
// own manifest hash and joint key; then the server's `GET /election/tally`
// must be exactly the board's tally chunks and its fingerprint
// F_election(M, K). Any difference refuses, and nothing is decrypted.
import { sha256 } from '@noble/hashes/sha2.js';
import * as U from '../crypto/index.js';
import { StyleJson, boardApi, call } from './api.js';
import { BoardTally, Election, Progress, checkBoard, electionId, manifestText, refuse } from './boardcheck.js';

export type { Progress, TallyRecord } from './boardcheck.js';

export interface CheckedTally extends BoardTally {
  checkpoint: U.Checkpoint;
  /** SHA-256 of the tally chunks' concatenation, to compare with other trustees. */
  tallyHash: string;
  /** The board key came from the server (trusted on first use, §T1.1 item 4). */
  keyFromServer: boolean;
}

/** The entries 0..size, page by page (board.md §B8). */
async function fetchEntries(cp: U.Checkpoint, progress: Progress): Promise<Uint8Array[]> {
  const size = Number(cp.size);
  const entries: Uint8Array[] = [];
  while (entries.length < size) {
    const page = await boardApi.entries(entries.length, size);
    if (page.entries.length === 0) refuse('checkpoint.root', `the board served no entry at ${entries.length}`);
    for (const e of page.entries) entries.push(U.base64Decode(e.entry));
    progress('entries', entries.length, size);
  }
  return entries;
}

/** Districts (manifest order) and ballot styles from the server, each held to the manifest and the store. */
async function styles(id: string, toml: string, M: Uint8Array, K: U.Point): Promise<Pick<Election, 'districts' | 'styles'>> {
  const names = await call<{ election: string; districts: { id: string }[] }>('/election/names');
  if (names.election !== id) refuse('manifest', 'the server names another election than the manifest');
  const districts = names.districts.map((d) => d.id);
  const fingerprint = U.toHex(U.fingerprintElection(M, K));
  const out = new Map<string, StyleJson>();
  for (const d of districts) {
    if (!toml.includes(`"${d}"`)) refuse('manifest', `district ${d} is not in the manifest`);
    const s = await call<StyleJson>(`/election/style/${encodeURIComponent(d)}`);
    if (s.district !== d || s.header !== U.toHex(U.ballotHeader(id, d)) || s.fingerprint !== fingerprint || s.joint_key !== U.toHex(U.enc(K)))
      refuse('manifest', `the server’s ballot style of ${d} is not this election’s`);
    out.set(d, s);
  }
  return { districts, styles: out };
}

/**
 * §T1.1 in the browser. `M`, `K`, `n`, `t` come from the key store;
 * `boardKey` is the verifier key the commission published (else the
 * server's, trusted on first use).
 */
export async function checkTally(store: { M: Uint8Array; K: U.Point; n: number; t: number }, boardKey: string | null, progress: Progress): Promise<CheckedTally> {
  const keyText = boardKey?.trim() || (await call<{ board_key: string }>('/web/config.json')).board_key;
  const key = U.parseVerifierKey(keyText);
  progress('checkpoint', 0, 1);
  const cp = U.verifyCheckpointNote(await boardApi.checkpoint(), key);
  const raw = await fetchEntries(cp, progress);
  const toml = manifestText(raw.map((b) => U.parseEnvelope(b)).filter((x) => x.kind === 0x0100), store.M);
  const id = electionId(toml);
  const e: Election = { M: store.M, key: store.K, n: store.n, t: store.t, id, toml, ...(await styles(id, toml, store.M, store.K)) };
  const board = checkBoard(e, raw, cp, key, progress);
  const served = (await call<{ payloads: string[] }>('/election/tally')).payloads;
  if (served.length !== board.chunks.length || served.some((p, i) => p !== U.toHex(board.chunks[i])))
    refuse('tally_mismatch', 'the tally the server hands out is not the board’s');
  const status = await call<{ fingerprint: string | null }>('/election/status');
  if (status.fingerprint !== U.toHex(board.fingerprint)) refuse('fingerprint_mismatch', 'the server publishes another election fingerprint');
  return { ...board, checkpoint: cp, tallyHash: U.toHex(sha256(U.concat(...board.chunks))), keyFromServer: !boardKey?.trim() };
}
