// What a browser trustee checks before it decrypts anything
// (spec/trustee.md §T1.1): the board's entries up to a checkpoint signed by
// the board key, their tree root, the manifest and joint key of its own
// store, the counted ballots (record.md §R6.3: window, sealed credential,
// header, proofs, replays, re-vote policy, reconciliation) and their sums,
// which must be byte for byte the board's tally chunks (§R10) and the
// server's `GET /election/tally`. Any difference refuses, and nothing is
// decrypted.
import { sha256 } from '@noble/hashes/sha2.js';
import * as U from '../crypto/index.js';
import { StyleJson, boardApi, call } from './api.js';

export const KIND = {
  manifest: 0x0100,
  ceremony: 0x0101,
  credentials: 0x0102,
  opened: 0x0200,
  ballot: 0x0201,
  audited: 0x0202,
  closed: 0x0203,
  reconciliation: 0x0300,
  admin: 0x0400,
} as const;

export interface TallyRecord {
  district: string;
  contest: string;
  ballots: number;
  sums: U.Ciphertext[];
}
export interface CheckedTally {
  checkpoint: U.Checkpoint;
  /** The board's tally chunks (§R10), in board order: exactly what is decrypted. */
  chunks: Uint8Array[];
  records: TallyRecord[];
  /** SHA-256 of the chunks' concatenation, to compare with other trustees. */
  tallyHash: string;
  fingerprint: Uint8Array;
  ballotsOnBoard: number;
  counted: number;
  /** The board key came from the server (trusted on first use, §T1.1 item 4). */
  keyFromServer: boolean;
}
export type Progress = (step: string, done: number, total: number) => void;

const hexOf = (p: U.Point) => U.toHex(U.enc(p));
function refuse(code: string, message: string): never {
  U.fail(code, message);
}

/** The entries 0..size, page by page (board.md §B8), with their leaf hashes checked against the checkpoint root. */
async function fetchEntries(cp: U.Checkpoint, progress: Progress): Promise<Uint8Array[]> {
  const size = Number(cp.size);
  const entries: Uint8Array[] = [];
  while (entries.length < size) {
    const page = await boardApi.entries(entries.length, size);
    if (page.entries.length === 0) refuse('board_incomplete', `the board served no entry at ${entries.length}`);
    for (const e of page.entries) entries.push(U.base64Decode(e.entry));
    progress('entries', entries.length, size);
  }
  if (!U.equalBytes(U.treeHash(entries.map(U.leafHash)), cp.root)) refuse('checkpoint_root', 'the entries do not hash to the signed checkpoint root');
  return entries;
}

function manifestText(entries: { kind: number; payload: Uint8Array }[], M: Uint8Array): string {
  const chunks = entries.filter((e) => e.kind === KIND.manifest).map((e) => e.payload);
  if (chunks.length === 0) refuse('manifest', 'no manifest on the board');
  const parts = chunks.map((c, i) => {
    const r = new U.Reader(c);
    if (r.u8() !== 1 || r.u16() !== i || r.u16() !== chunks.length) refuse('manifest', 'the manifest chunks are not one complete sequence');
    return r.bytes(r.remaining());
  });
  const bytes = U.concat(...parts);
  if (!U.equalBytes(sha256(bytes), M)) refuse('manifest', 'the board’s manifest is not the one of this key store');
  return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
}

/** The election id (§R2.1 top-level `id`): the top-level keys come before the first table header. */
function electionId(toml: string): string {
  const top = toml.split(/^\s*\[/m)[0];
  const m = /^\s*id\s*=\s*"([a-z0-9._-]{1,64})"\s*(#.*)?$/m.exec(top);
  if (!m) refuse('manifest', 'no election id in the manifest');
  return m[1];
}

/** `revote.policy` (§R2.1), read only when some credential has two valid ballots. */
function revotePolicy(toml: string): 'forbidden' | 'last-counts' {
  const table = /^\s*\[revote\]\s*$([\s\S]*?)(?=^\s*\[|(?![\s\S]))/m.exec(toml)?.[1];
  const inline = /^\s*revote\s*=\s*\{([^}]*)\}/m.exec(toml)?.[1];
  const m = /policy\s*=\s*"(forbidden|last-counts)"/.exec(table ?? inline ?? '');
  if (!m) refuse('manifest', 'the re-vote policy cannot be read from the manifest');
  return m[1] as 'forbidden' | 'last-counts';
}

function readId(r: U.Reader): string {
  const n = r.u8();
  if (n < 1 || n > 64) refuse('bad_identifier', 'identifier length');
  return new TextDecoder().decode(r.bytes(n));
}
const idBytes = (s: string) => U.concat(U.u8(U.utf8(s).length), U.utf8(s));

/** §R4: credential (hex) → district, for the lists before `voting_opened`. */
function sealedCredentials(payloads: Uint8Array[]): Map<string, string> {
  const sealed = new Map<string, string>();
  for (const p of payloads) {
    const r = new U.Reader(p);
    if (r.u8() !== 1) refuse('credential_lists', 'credential list version');
    const district = readId(r);
    r.u32();
    r.u32();
    const n = r.u32();
    for (let i = 0; i < n; i++) {
      const c = U.toHex(r.bytes(32));
      if (sealed.has(c)) refuse('credential_lists', 'a credential sealed twice');
      sealed.set(c, district);
    }
    r.end();
  }
  return sealed;
}

/** §R9: credentials annulled (reasons 1 and 2). */
function annulled(payloads: Uint8Array[]): Set<string> {
  const out = new Set<string>();
  for (const p of payloads) {
    const r = new U.Reader(p);
    if (r.u8() !== 1) refuse('reconciliation', 'reconciliation version');
    r.u8();
    r.u32();
    r.u32();
    const n = r.u32();
    for (let i = 0; i < n; i++) {
      const c = U.toHex(r.bytes(32));
      const reason = r.u8();
      if (reason === 1 || reason === 2) out.add(c);
    }
    r.end();
  }
  return out;
}

export function encodeRecord(x: TallyRecord): Uint8Array {
  return U.concat(idBytes(x.district), idBytes(x.contest), U.u64(x.ballots), U.u16(x.sums.length), ...x.sums.map(U.encodeCiphertext));
}

/** The tally chunks (§R10: sub-tag 1, one complete sequence) and their records' bytes. */
function tallyChunks(payloads: Uint8Array[]): { chunks: Uint8Array[]; records: Uint8Array } {
  const chunks = payloads.filter((p) => p.length >= 2 && p[0] === 1 && p[1] === 1);
  if (chunks.length === 0) refuse('tally_not_published', 'no tally on the board');
  const parts = chunks.map((c, i) => {
    const r = new U.Reader(c);
    r.u8();
    r.u8();
    if (r.u32() !== i || r.u32() !== chunks.length) refuse('inconsistent_chunks', 'the tally chunks are not one complete sequence');
    r.u32();
    return r.bytes(r.remaining());
  });
  return { chunks, records: U.concat(...parts) };
}

interface Election {
  id: string;
  toml: string;
  key: U.Point;
  fingerprint: Uint8Array;
  districts: string[];
  styles: Map<string, StyleJson>;
}

/** The counted ballots (§R6.3) by district, in board order. */
function countedBallots(e: Election, kinds: { kind: number; payload: Uint8Array }[], progress: Progress): { byDistrict: Map<string, U.Ballot[]>; onBoard: number } {
  const opened = kinds.findIndex((k) => k.kind === KIND.opened);
  const closed = kinds.findIndex((k) => k.kind === KIND.closed);
  if (opened < 0 || closed < opened) refuse('voting_closed', 'the board has no voting window that is closed');
  const sealed = sealedCredentials(kinds.slice(0, opened).filter((k) => k.kind === KIND.credentials).map((k) => k.payload));
  const afterClose = kinds.slice(closed + 1);
  const tallyAt = afterClose.findIndex((k) => k.kind === KIND.admin && k.payload[1] === 1);
  const gone = annulled(afterClose.slice(0, tallyAt < 0 ? undefined : tallyAt).filter((k) => k.kind === KIND.reconciliation).map((k) => k.payload));
  const window = kinds.slice(opened + 1, closed);
  const seen = new Set<string>();
  const audited = new Set<string>();
  for (const k of window)
    if (k.kind === KIND.audited && k.payload.length >= 5) {
      const len = new U.Reader(k.payload.subarray(1, 5)).u32();
      audited.add(U.toHex(sha256(k.payload.subarray(5, 5 + len))));
    }
  const valid = new Map<string, U.Ballot[]>();
  const cast = window.filter((k) => k.kind === KIND.ballot);
  cast.forEach((k, i) => {
    progress('ballots', i + 1, cast.length);
    const tracking = U.toHex(sha256(k.payload));
    if (seen.has(tracking) || audited.has(tracking)) return;
    seen.add(tracking);
    let b: U.Ballot;
    try {
      b = U.decodeBallot(k.payload);
      const district = sealed.get(hexOf(b.credential));
      const style = district === undefined ? undefined : e.styles.get(district);
      if (!style || !U.equalBytes(b.header, U.ballotHeader(e.id, style.district))) return;
      U.verifyBallot(b, style.contests.map((c) => c.shape), { key: e.key, fingerprint: e.fingerprint });
    } catch {
      return;
    }
    const cred = hexOf(b.credential);
    valid.set(cred, [...(valid.get(cred) ?? []), b]);
  });
  const policy = [...valid.values()].some((v) => v.length > 1) ? revotePolicy(e.toml) : 'last-counts';
  const byDistrict = new Map<string, U.Ballot[]>(e.districts.map((d) => [d, []]));
  for (const [cred, list] of valid) {
    if (gone.has(cred)) continue;
    byDistrict.get(sealed.get(cred) ?? '')?.push(policy === 'forbidden' ? list[0] : list[list.length - 1]);
  }
  return { byDistrict, onBoard: cast.length };
}

/** §R10: districts in manifest order, each style's contests in order, the sums of all n options. */
export function recomputeTally(districts: string[], styles: Map<string, StyleJson>, byDistrict: Map<string, U.Ballot[]>): TallyRecord[] {
  const records: TallyRecord[] = [];
  for (const d of districts) {
    const style = styles.get(d);
    if (!style) continue;
    const ballots = byDistrict.get(d) ?? [];
    style.contests.forEach((c, ci) =>
      records.push({
        district: d,
        contest: c.id,
        ballots: ballots.length,
        sums: Array.from({ length: c.shape.options }, (_, o) => U.sumCiphertexts(ballots.map((b) => b.contests[ci].ciphertexts[o]))),
      }),
    );
  }
  return records;
}

async function loadElection(toml: string, M: Uint8Array, K: U.Point): Promise<Election> {
  const id = electionId(toml);
  const names = await call<{ election: string; districts: { id: string }[] }>('/election/names');
  if (names.election !== id) refuse('manifest', 'the server names another election than the manifest');
  const districts = names.districts.map((d) => d.id);
  for (const d of districts) if (!toml.includes(`"${d}"`)) refuse('manifest', `district ${d} is not in the manifest`);
  const fingerprint = U.fingerprintElection(M, K);
  const styles = new Map<string, StyleJson>();
  for (const d of districts) {
    const s = await call<StyleJson>(`/election/style/${encodeURIComponent(d)}`);
    if (s.district !== d || s.header !== U.toHex(U.ballotHeader(id, d)) || s.fingerprint !== U.toHex(fingerprint) || s.joint_key !== hexOf(K))
      refuse('manifest', `the server’s ballot style of ${d} is not this election’s`);
    styles.set(d, s);
  }
  return { id, toml, key: K, fingerprint, districts, styles };
}

/**
 * §T1.1 in the browser. `M` and `K` are the key store's manifest hash and
 * joint key; `boardKey` the verifier key the commission published (else the
 * server's, trusted on first use).
 */
export async function checkTally(M: Uint8Array, K: U.Point, boardKey: string | null, progress: Progress): Promise<CheckedTally> {
  const keyText = boardKey?.trim() || (await call<{ board_key: string }>('/web/config.json')).board_key;
  const key = U.parseVerifierKey(keyText);
  progress('checkpoint', 0, 1);
  const cp = U.verifyCheckpointNote(await boardApi.checkpoint(), key);
  const entries = await fetchEntries(cp, progress);
  const kinds = entries.map((e) => U.parseEnvelope(e));
  const toml = manifestText(kinds, M);
  const ceremony = kinds.filter((k) => k.kind === KIND.ceremony && k.payload[1] === 4);
  if (ceremony.length !== 1 || !U.equalBytes(ceremony[0].payload.subarray(2), U.enc(K)))
    refuse('joint_key_mismatch', 'the board’s joint key is not the one this trustee computed');
  const e = await loadElection(toml, M, K);
  const { byDistrict, onBoard } = countedBallots(e, kinds, progress);
  const records = recomputeTally(e.districts, e.styles, byDistrict);
  const { chunks, records: boardRecords } = tallyChunks(kinds.filter((k) => k.kind === KIND.admin).map((k) => k.payload));
  if (!U.equalBytes(U.concat(...records.map(encodeRecord)), boardRecords))
    refuse('tally_mismatch', 'the board’s tally is not the sum of the counted ballots on the board');
  const served = (await call<{ payloads: string[] }>('/election/tally')).payloads;
  if (served.length !== chunks.length || served.some((p, i) => p !== U.toHex(chunks[i])))
    refuse('tally_mismatch', 'the tally the server hands out is not the board’s');
  const status = await call<{ fingerprint: string | null }>('/election/status');
  if (status.fingerprint !== U.toHex(e.fingerprint)) refuse('fingerprint_mismatch', 'the server publishes another election fingerprint');
  let counted = 0;
  for (const list of byDistrict.values()) counted += list.length;
  return {
    checkpoint: cp,
    chunks,
    records,
    tallyHash: U.toHex(sha256(U.concat(...chunks))),
    fingerprint: e.fingerprint,
    ballotsOnBoard: onBoard,
    counted,
    keyFromServer: !boardKey?.trim(),
  };
}
