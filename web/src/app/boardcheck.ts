// The checks of spec/trustee.md §T1.1 on a board already read (entries and
// the checkpoint signed by the board key), without the network: the
// checks of spec/export.md §X4 that the tally depends on, in the browser.
// The first failure refuses, named by its §X4 check; otherwise the board's
// tally chunks equal the recomputed sums and are what gets decrypted.
import { sha256 } from '@noble/hashes/sha2.js';
import * as U from '../crypto/index.js';
import { ContestShape } from '../crypto/ballot.js';

export const KIND = {
  manifest: 0x0100,
  ceremony: 0x0101,
  credentials: 0x0102,
  opened: 0x0200,
  ballot: 0x0201,
  audited: 0x0202,
  closed: 0x0203,
  reconciliation: 0x0300,
  partial: 0x0301,
  results: 0x0302,
  admin: 0x0400,
  complaint: 0x0401,
  answer: 0x0402,
  cosigned: 0x0403,
} as const;
const ASSIGNED = new Set<number>(Object.values(KIND));

export interface Entry {
  kind: number;
  payload: Uint8Array;
}
export interface Style {
  district: string;
  contests: { id: string; shape: ContestShape }[];
}
/** What the check needs to know of the election besides the board: from the trustee's store (M, K, n, t) and the manifest. */
export interface Election {
  M: Uint8Array;
  key: U.Point;
  n: number;
  t: number;
  /** The manifest's election id (§R2.1). */
  id: string;
  toml: string;
  /** Districts in manifest order. */
  districts: string[];
  styles: Map<string, Style>;
}
export interface TallyRecord {
  district: string;
  contest: string;
  ballots: number;
  sums: U.Ciphertext[];
}
export interface BoardTally {
  chunks: Uint8Array[];
  records: TallyRecord[];
  fingerprint: Uint8Array;
  ballotsOnBoard: number;
  counted: number;
}
export type Progress = (step: string, done: number, total: number) => void;

export function refuse(code: string, message: string): never {
  U.fail(code, message);
}
/** Runs `f`; any failure is refused as check `check`. */
function as<T>(check: string, what: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    refuse(check, `${what}: ${(e as Error).message}`);
  }
}
const hexOf = (p: U.Point) => U.toHex(U.enc(p));
const ID_RE = /^[a-z0-9._-]{1,64}$/;

function readId(r: U.Reader): string {
  const n = r.u8();
  const s = new TextDecoder().decode(r.bytes(n));
  if (!ID_RE.test(s)) U.fail('bad_identifier', 'identifier');
  return s;
}
const idBytes = (s: string) => U.concat(U.u8(U.utf8(s).length), U.utf8(s));

export function manifestBytes(entries: Entry[]): Uint8Array {
  const chunks = entries.filter((e) => e.kind === KIND.manifest).map((e) => e.payload);
  if (chunks.length === 0) refuse('manifest', 'no manifest on the board');
  return U.concat(
    ...chunks.map((c, i) =>
      as('manifest', 'manifest chunk', () => {
        const r = new U.Reader(c);
        if (r.u8() !== 1 || r.u16() !== i || r.u16() !== chunks.length || r.remaining() === 0) U.fail('inconsistent_chunks', 'not one complete sequence');
        return r.bytes(r.remaining());
      }),
    ),
  );
}

/** The manifest text, required to hash to the store's M (§T1.1 item 3). */
export function manifestText(entries: Entry[], M: Uint8Array): string {
  const bytes = manifestBytes(entries);
  if (!U.equalBytes(sha256(bytes), M)) refuse('manifest', 'the board’s manifest is not the one of this key store');
  return as('manifest', 'manifest', () => new TextDecoder('utf-8', { fatal: true }).decode(bytes));
}

/** The election id (§R2.1 top-level `id`): top-level keys come before the first table header. */
export function electionId(toml: string): string {
  const m = /^\s*id\s*=\s*"([a-z0-9._-]{1,64})"\s*(#.*)?$/m.exec(toml.split(/^\s*\[/m)[0]);
  if (!m) refuse('manifest', 'no election id in the manifest');
  return m[1];
}

/** A string key of a manifest table (`[table]` or `table = { … }`), for the few rules the tally depends on. */
function tomlChoice<T extends string>(toml: string, table: string, key: string, values: T[]): T {
  const section = new RegExp(`^\\s*\\[${table}\\]\\s*$([\\s\\S]*?)(?=^\\s*\\[|(?![\\s\\S]))`, 'm').exec(toml)?.[1];
  const inline = new RegExp(`^\\s*${table}\\s*=\\s*\\{([^}]*)\\}`, 'm').exec(toml)?.[1];
  const m = new RegExp(`(?:^|[\\s,])${key}\\s*=\\s*"(${values.join('|')})"`).exec(section ?? inline ?? '');
  if (!m) refuse('manifest', `${table}.${key} cannot be read from the manifest`);
  return m[1] as T;
}

/** board.md §B5.1 and record.md §R1.1: envelopes, assigned kinds, admin_action version and sub-tag. */
function envelopes(entries: Uint8Array[]): Entry[] {
  return entries.map((bytes, i) =>
    as('entries.envelope', `entry ${i}`, () => {
      const e = U.parseEnvelope(bytes);
      if (!ASSIGNED.has(e.kind)) U.fail('unknown_kind', `kind ${e.kind}`);
      if (e.kind === KIND.admin && (e.payload.length < 2 || e.payload[0] !== 1 || ![1, 2, 4].includes(e.payload[1]))) U.fail('unknown_tag', 'admin_action sub-tag');
      return e;
    }),
  );
}

/** board.md §B5.3: every cosigned checkpoint is a signed prefix of this board. */
function cosignedCheckpoints(entries: Entry[], leaves: Uint8Array[], key: U.VerifierKey): void {
  entries.forEach((e, i) => {
    if (e.kind !== KIND.cosigned) return;
    as('checkpoint.consistency', `cosigned checkpoint at ${i}`, () => {
      const cp = U.verifyCheckpointNote(new TextDecoder('utf-8', { fatal: true }).decode(e.payload), key);
      if (cp.size > BigInt(i) || !U.equalBytes(U.treeHash(leaves.slice(0, Number(cp.size))), cp.root)) U.fail('bad_checkpoint', 'not a prefix of the board');
    });
  });
}

/** record.md §R1.4: an entry of an earlier item after a later one. */
function boardOrder(entries: Entry[]): void {
  const rank = (e: Entry): number => {
    switch (e.kind) {
      case KIND.manifest: return 1;
      case KIND.ceremony: return 2;
      case KIND.credentials: return 3;
      case KIND.opened: return 4;
      case KIND.closed: return 6;
      case KIND.reconciliation: return 7;
      case KIND.admin: return e.payload[1] === 1 ? 8 : 0;
      case KIND.partial: return 9;
      case KIND.results: return 10;
      default: return 0;
    }
  };
  let top = 0;
  entries.forEach((e, i) => {
    const r = rank(e);
    if (r > 0 && r < top) refuse('board.order', `entry ${i} is out of the order of record.md §R1.4`);
    top = Math.max(top, r);
  });
}

/** record.md §R3 and crypto.md §8.6–§8.7: the ceremony yields the store's K, in one final tag-4 entry. */
function keyCeremony(e: Election, entries: Entry[]): void {
  const round1: U.Round1Message[] = [];
  const round2: U.Round2Message[] = [];
  const complaints: U.Complaint[] = [];
  const ceremony = entries.filter((x) => x.kind === KIND.ceremony);
  ceremony.forEach((x, i) =>
    as('key_ceremony', `ceremony entry ${i}`, () => {
      if (x.payload.length < 2 || x.payload[0] !== 1) U.fail('unknown_version', 'version');
      const body = x.payload.subarray(2);
      const tag = x.payload[1];
      if (tag === 1) round1.push(U.decodeRound1(body));
      else if (tag === 2) round2.push(U.decodeRound2(body));
      else if (tag === 3) complaints.push(U.decodeComplaint(body));
      else if (tag === 4) {
        if (i !== ceremony.length - 1) U.fail('joint_key_mismatch', 'the joint key is not the last ceremony entry');
        if (!U.equalBytes(body, U.enc(e.key))) U.fail('joint_key_mismatch', 'the board’s joint key is not the one this trustee computed');
      } else U.fail('unknown_tag', `tag ${tag}`);
    }),
  );
  if (ceremony.length === 0 || ceremony[ceremony.length - 1].payload[1] !== 4) refuse('key_ceremony', 'no joint key on the board');
  as('key_ceremony', 'the ceremony', () => U.verifyCeremony({ params: { n: e.n, t: e.t }, manifestHash: e.M, round1, round2, complaints }, e.key));
}

function compare(a: Uint8Array, b: Uint8Array): number {
  for (let k = 0; k < Math.min(a.length, b.length); k++) if (a[k] !== b[k]) return a[k] - b[k];
  return a.length - b.length;
}

/** record.md §R4: credential (hex) → district; every chunk must pass, every district's list be complete. */
function credentialLists(e: Election, payloads: Uint8Array[]): Map<string, string> {
  const sealed = new Map<string, string>();
  let cur: { district: string; next: number; count: number; last: Uint8Array | null } | null = null;
  const complete = new Set<string>();
  payloads.forEach((p, i) =>
    as('credential_lists', `credential list chunk ${i}`, () => {
      const r = new U.Reader(p);
      if (r.u8() !== 1) U.fail('unknown_version', 'version');
      const district = readId(r);
      const index = r.u32();
      const count = r.u32();
      const n = r.u32();
      const creds = Array.from({ length: n }, () => r.bytes(32));
      r.end();
      if (count < 1 || index >= count) U.fail('out_of_bounds', 'chunk position');
      const order = e.districts.indexOf(district);
      if (order < 0) U.fail('unknown_district', district);
      if (cur && cur.district === district && index === cur.next && count === cur.count) cur.next++;
      else if (index === 0 && (!cur || order > e.districts.indexOf(cur.district))) cur = { district, next: 1, count, last: null };
      else U.fail('inconsistent_chunks', 'a list out of district order, or a second list of a district');
      for (const c of creds) {
        const P = U.decodeElement(c, false);
        if (cur.last && compare(cur.last, c) >= 0) U.fail('not_canonical_order', 'credentials not strictly increasing');
        if (sealed.has(hexOf(P))) U.fail('duplicate_credential', 'a credential sealed twice');
        cur.last = c;
      }
      for (const c of creds) sealed.set(U.toHex(c), district);
      if (cur.next === cur.count) complete.add(district);
    }),
  );
  for (const d of e.districts) if (!complete.has(d)) refuse('credential_lists', `district ${d} has no complete list`);
  return sealed;
}

function marker(check: string, p: Uint8Array, len: number, M: Uint8Array): U.Reader {
  return as(check, 'marker', () => {
    if (p.length !== len || p[0] !== 1 || !U.equalBytes(p.subarray(1, 33), M)) U.fail('bad_marker', `${check}: version, length or manifest hash`);
    const r = new U.Reader(p.subarray(41));
    return r;
  });
}

interface Counted {
  valid: Map<string, U.Ballot[]>;
  onBoard: number;
}

/** record.md §R6, §R7: every ballot and audited ballot in the window passes, none outside it. */
function ballots(e: Election, entries: Entry[], sealed: Map<string, string>, F: Uint8Array, progress: Progress): Counted {
  const opened = entries.findIndex((x) => x.kind === KIND.opened);
  const closed = entries.findIndex((x) => x.kind === KIND.closed);
  entries.forEach((x, i) => {
    if ((x.kind === KIND.ballot || x.kind === KIND.audited) && (i < opened || i > closed)) refuse('ballot.window', `entry ${i} is outside the voting window`);
  });
  const inWindow = entries.slice(opened + 1, closed).filter((x) => x.kind === KIND.ballot || x.kind === KIND.audited);
  const tracking = new Set<string>();
  const audited = new Set<string>();
  for (const x of inWindow)
    if (x.kind === KIND.audited && x.payload.length >= 5) audited.add(U.toHex(sha256(x.payload.subarray(5, 5 + new U.Reader(x.payload.subarray(1, 5)).u32()))));
  const election = { key: e.key, fingerprint: F };
  const styleOf = (b: U.Ballot): Style => {
    const district = sealed.get(hexOf(b.credential));
    if (district === undefined) refuse('ballot.credential', 'a ballot of a credential in no sealed list');
    if (!U.equalBytes(b.header, U.ballotHeader(e.id, district))) refuse('ballot.header', 'a ballot with another election’s or district’s header');
    return e.styles.get(district) ?? refuse('manifest', `no ballot style for ${district}`);
  };
  const valid = new Map<string, U.Ballot[]>();
  let onBoard = 0;
  inWindow.forEach((x, i) => {
    progress('ballots', i + 1, inWindow.length);
    if (x.kind === KIND.audited) {
      const a = as('audited_ballot', 'audited ballot', () => U.decodeAuditPayload(x.payload));
      if (tracking.has(U.toHex(sha256(a.ballot.bytes)))) refuse('ballot.replay', 'an audited ballot already on the board');
      tracking.add(U.toHex(sha256(a.ballot.bytes)));
      const style = styleOf(a.ballot);
      as('audited_ballot', 'audited ballot', () => {
        U.verifyBallot(a.ballot, style.contests.map((c) => c.shape), election);
        U.verifyAudit(a.ballot, e.key, a.selections, a.nonces);
      });
      return;
    }
    onBoard++;
    const code = U.toHex(sha256(x.payload));
    if (tracking.has(code) || audited.has(code)) refuse('ballot.replay', 'a replayed or audited ballot cast');
    tracking.add(code);
    const b = as('ballot.decode', 'ballot', () => U.decodeBallot(x.payload));
    const style = styleOf(b);
    as('ballot.proofs', 'ballot', () => U.verifyBallot(b, style.contests.map((c) => c.shape), election));
    const cred = hexOf(b.credential);
    valid.set(cred, [...(valid.get(cred) ?? []), b]);
  });
  return { valid, onBoard };
}

/** record.md §R9: the annulled credentials (reasons 1 and 2); every listed one must be sealed and have a valid ballot. */
function reconciliation(e: Election, payloads: Uint8Array[], sealed: Map<string, string>, valid: Map<string, U.Ballot[]>): Set<string> {
  const out = new Set<string>();
  if (payloads.length === 0) return out;
  const policy = tomlChoice(e.toml, 'reconciliation', 'paper_after_evote', ['evote-stands', 'evote-annulled']);
  let last: Uint8Array | null = null;
  payloads.forEach((p, i) =>
    as('reconciliation', `reconciliation chunk ${i}`, () => {
      const r = new U.Reader(p);
      if (r.u8() !== 1) U.fail('unknown_version', 'version');
      if (r.u8() !== (policy === 'evote-stands' ? 1 : 2)) U.fail('policy_mismatch', 'not the manifest’s paper policy');
      if (r.u32() !== i || r.u32() !== payloads.length) U.fail('inconsistent_chunks', 'not one complete sequence');
      const n = r.u32();
      for (let k = 0; k < n; k++) {
        const c = r.bytes(32);
        const reason = r.u8();
        if (last && compare(last, c) >= 0) U.fail('not_canonical_order', 'not strictly increasing');
        last = c;
        U.decodeElement(c, false);
        if (!(reason === 2 || (reason === 1 && policy === 'evote-annulled') || (reason === 3 && policy === 'evote-stands'))) U.fail('bad_reason', `reason ${reason}`);
        if (!sealed.has(U.toHex(c)) || !valid.has(U.toHex(c))) U.fail('nothing_to_annul', 'a listed credential without a valid ballot');
        if (reason !== 3) out.add(U.toHex(c));
      }
      r.end();
    }),
  );
  return out;
}

export function encodeRecord(x: TallyRecord): Uint8Array {
  return U.concat(idBytes(x.district), idBytes(x.contest), U.u64(x.ballots), U.u16(x.sums.length), ...x.sums.map(U.encodeCiphertext));
}

/** §R10: districts in manifest order, each style's contests in order, the sums of all n options. */
export function recomputeTally(e: Election, byDistrict: Map<string, U.Ballot[]>): TallyRecord[] {
  return e.districts.flatMap((d) => {
    const ballots = byDistrict.get(d) ?? [];
    return (e.styles.get(d)?.contests ?? []).map((c, ci) => ({
      district: d,
      contest: c.id,
      ballots: ballots.length,
      sums: Array.from({ length: c.shape.options }, (_, o) => U.sumCiphertexts(ballots.map((b) => b.contests[ci].ciphertexts[o]))),
    }));
  });
}

/** The tally chunks (§R10, one complete sequence) and the concatenation of their records. */
function tallyChunks(chunks: Uint8Array[]): Uint8Array {
  if (chunks.length === 0) refuse('tally', 'no tally on the board');
  return U.concat(
    ...chunks.map((c, i) =>
      as('tally', 'tally chunk', () => {
        const r = new U.Reader(c);
        r.u8();
        r.u8();
        if (r.u32() !== i || r.u32() !== chunks.length) U.fail('inconsistent_chunks', 'the tally chunks are not one complete sequence');
        r.u32();
        return r.bytes(r.remaining());
      }),
    ),
  );
}

/**
 * §T1.1 on a board read up to `cp` (already verified with `key`): every
 * check the sums depend on, then the sums, which must be the board's
 * tally byte for byte.
 */
export function checkBoard(e: Election, raw: Uint8Array[], cp: U.Checkpoint, key: U.VerifierKey, progress: Progress = () => {}): BoardTally {
  if (BigInt(raw.length) !== cp.size) refuse('checkpoint.root', 'not as many entries as the checkpoint');
  const leaves = raw.map(U.leafHash);
  if (!U.equalBytes(U.treeHash(leaves), cp.root)) refuse('checkpoint.root', 'the entries do not hash to the signed checkpoint root');
  const entries = envelopes(raw);
  cosignedCheckpoints(entries, leaves, key);
  boardOrder(entries);
  manifestText(entries, e.M);
  keyCeremony(e, entries);
  const opened = entries.filter((x) => x.kind === KIND.opened);
  const closedAt = entries.findIndex((x) => x.kind === KIND.closed);
  if (opened.length !== 1) refuse('voting_opened', `${opened.length} voting_opened entries`);
  if (closedAt < 0 || entries.filter((x) => x.kind === KIND.closed).length !== 1) refuse('voting_closed', 'not exactly one voting_closed entry');
  const openedAt = entries.indexOf(opened[0]);
  const sealed = credentialLists(e, entries.slice(0, openedAt).filter((x) => x.kind === KIND.credentials).map((x) => x.payload));
  if (marker('voting_opened', opened[0].payload, 49, e.M).u64() !== BigInt(sealed.size)) refuse('voting_opened', 'the sealed total is not the lists’');
  const F = U.fingerprintElection(e.M, e.key);
  const { valid, onBoard } = ballots(e, entries, sealed, F, progress);
  const closedR = marker('voting_closed', entries[closedAt].payload, 57, e.M);
  const window = entries.slice(openedAt + 1, closedAt);
  if (closedR.u64() !== BigInt(onBoard) || closedR.u64() !== BigInt(window.filter((x) => x.kind === KIND.audited).length))
    refuse('voting_closed', 'the ballot counts are not the board’s');
  const twice = [...valid.values()].some((v) => v.length > 1);
  const policy = twice ? tomlChoice(e.toml, 'revote', 'policy', ['forbidden', 'last-counts']) : 'last-counts';
  if (policy === 'forbidden' && twice) refuse('revote', 'a second ballot under the re-vote policy "forbidden"');
  const after = entries.slice(closedAt + 1);
  const gone = reconciliation(e, after.filter((x) => x.kind === KIND.reconciliation).map((x) => x.payload), sealed, valid);
  const byDistrict = new Map<string, U.Ballot[]>(e.districts.map((d) => [d, []]));
  for (const [cred, list] of valid) if (!gone.has(cred)) byDistrict.get(sealed.get(cred) ?? '')?.push(list[list.length - 1]);
  const records = recomputeTally(e, byDistrict);
  const chunks = after.filter((x) => x.kind === KIND.admin && x.payload[1] === 1).map((x) => x.payload);
  if (!U.equalBytes(U.concat(...records.map(encodeRecord)), tallyChunks(chunks)))
    refuse('tally', 'the board’s tally is not the sum of the counted ballots on the board');
  let counted = 0;
  for (const list of byDistrict.values()) counted += list.length;
  return { chunks, records, fingerprint: F, ballotsOnBoard: onBoard, counted };
}
