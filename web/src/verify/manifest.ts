// record.md §R2: the manifest's chunks, its hash (§R2.2), its schema (§R2.1),
// display texts (§R2.5) and the ballot styles (§R2.3). A problem is reported
// with its path, e.g. `contests[0].options[2].names.en`.
import { parse, TomlDate } from 'smol-toml';
import { sha256 } from '@noble/hashes/sha2.js';
import { ContestShape } from '../crypto/ballot.js';

export interface Region {
  id: string;
  districts: number[];
}
export interface District {
  id: string;
  region: number;
  precincts: string[];
}
export interface Contest {
  id: string;
  shape: ContestShape;
}
export interface Manifest {
  id: string;
  hash: Uint8Array;
  revote: 'forbidden' | 'last-counts';
  paper: 'evote-stands' | 'evote-annulled';
  n: number;
  t: number;
  regions: Region[];
  districts: District[];
  /** Every precinct id, in manifest order. */
  precincts: string[];
  contests: Contest[];
  /** §R2.3: per district (by index), the indices of its contests in manifest order. */
  styles: number[][];
}

export class ManifestProblem extends Error {}
const problem = (path: string, what: string): never => {
  throw new ManifestProblem(`${path}: ${what}`);
};

type Table = Record<string, unknown>;
const isTable = (v: unknown): v is Table => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);

function keys(t: Table, path: string, allowed: string[], required: string[]): void {
  for (const k of Object.keys(t)) if (!allowed.includes(k)) problem(path ? `${path}.${k}` : k, 'unknown key');
  for (const k of required) if (!(k in t)) problem(path ? `${path}.${k}` : k, 'required key missing');
}
const at = (path: string, k: string): string => (path ? `${path}.${k}` : k);

function str(t: Table, path: string, k: string): string {
  const v = t[k];
  if (typeof v !== 'string') problem(at(path, k), 'must be a string');
  return v as string;
}
function table(t: Table, path: string, k: string): Table {
  const v = t[k];
  if (!isTable(v)) problem(at(path, k), 'must be a table');
  return v as Table;
}
function tables(t: Table, path: string, k: string): Table[] {
  const v = t[k] ?? [];
  if (!Array.isArray(v) || !v.every(isTable)) problem(at(path, k), 'must be an array of tables');
  return v as Table[];
}
function int(t: Table, path: string, k: string, lo: bigint, hi: bigint, dflt?: bigint): number {
  const v = t[k] ?? dflt;
  if (typeof v !== 'bigint') problem(at(path, k), 'must be an integer');
  const x = v as bigint;
  if (x < lo || x > hi) problem(at(path, k), `must be within ${lo}..${hi}`);
  return Number(x);
}

/** §R1.2. */
export const isIdentifier = (s: string): boolean => /^[a-z0-9._-]{1,64}$/.test(s);
function ident(t: Table, path: string, k = 'id'): string {
  const s = str(t, path, k);
  if (!isIdentifier(s)) problem(at(path, k), 'not an identifier (record.md §R1.2)');
  return s;
}

const hasText = (s: string): boolean => /[^\p{White_Space}]/u.test(s);
function name(t: Table, path: string, k: string): void {
  if (!hasText(str(t, path, k))) problem(at(path, k), 'holds only white space');
}

// §R2.5 per-language texts.
const BIDI = /[\u202a-\u202e\u2066-\u2069]/u;
function texts(t: Table, path: string, k: string, max: number, lineFeed: boolean): void {
  if (!(k in t)) return;
  const v = table(t, path, k);
  const p = at(path, k);
  keys(v, p, ['ru', 'en'], []);
  if (!('ru' in v) && !('en' in v)) problem(p, 'needs ru or en');
  for (const lang of ['ru', 'en']) {
    if (!(lang in v)) continue;
    const s = str(v, p, lang);
    const lp = `${p}.${lang}`;
    if (!hasText(s)) problem(lp, 'empty or only white space');
    if ([...s].length > max) problem(lp, `longer than ${max} characters`);
    if (BIDI.test(s)) problem(lp, 'holds a bidirectional control character');
    const cc = lineFeed ? /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/u : /[\u0000-\u001f\u007f-\u009f]/u;
    if (cc.test(s)) problem(lp, 'holds a control character');
  }
}

// §R2.1 schedule: offset date-times, whole seconds, second ≤ 59.
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
function instant(t: Table, path: string, k: string): number {
  const v = t[k];
  const p = at(path, k);
  let text: string;
  if (v instanceof TomlDate) {
    if (!v.isDateTime() || v.isLocal()) problem(p, 'needs a date, a time and a UTC offset');
    // smol-toml keeps the written offset; a fractional part shows as `.mmm`.
    text = v.toISOString();
  } else if (typeof v === 'string') text = v;
  else return problem(p, 'must be an offset date-time');
  const m = DATE_TIME.exec(text);
  if (!m) return problem(p, 'needs a date, a time and a UTC offset');
  if (m[7] && !/^\.0+$/.test(m[7])) problem(p, 'fractional seconds');
  if (Number(m[6]) > 59) problem(p, 'second above 59');
  const ms = Date.parse(text.replace(/\.\d+/, ''));
  if (Number.isNaN(ms)) problem(p, 'not a valid date-time');
  return ms;
}

function schedule(root: Table): void {
  const s = table(root, '', 'schedule');
  keys(s, 'schedule', ['time_zone', 'applications_open', 'applications_close', 'voting_opens', 'voting_closes'], [
    'time_zone', 'applications_open', 'applications_close', 'voting_opens', 'voting_closes',
  ]);
  const tz = str(s, 'schedule', 'time_zone');
  const tzOk = new TextEncoder().encode(tz).length <= 64 && tz.split('/').every((part) => /^[A-Za-z][A-Za-z0-9_+-]*$/.test(part));
  if (!tzOk) problem('schedule.time_zone', 'not a time zone name');
  const [ao, ac, vo, vc] = ['applications_open', 'applications_close', 'voting_opens', 'voting_closes'].map((k) => instant(s, 'schedule', k));
  if (!(ao < ac && ac <= vo && vo < vc)) problem('schedule', 'the windows are out of order');
}

function unique(ids: string[], path: string): void {
  const seen = new Set<string>();
  for (const id of ids) {
    if (seen.has(id)) problem(path, `id "${id}" appears twice`);
    seen.add(id);
  }
}

function places(root: Table, m: Manifest): void {
  const regions = tables(root, '', 'regions');
  if (regions.length === 0) problem('regions', 'at least one region');
  regions.forEach((r, ri) => {
    const rp = `regions[${ri}]`;
    keys(r, rp, ['id', 'name', 'names', 'districts'], ['id', 'name']);
    const region: Region = { id: ident(r, rp), districts: [] };
    name(r, rp, 'name');
    texts(r, rp, 'names', 300, false);
    const ds = tables(r, rp, 'districts');
    if (ds.length === 0) problem(`${rp}.districts`, 'at least one district');
    ds.forEach((d, di) => {
      const dp = `${rp}.districts[${di}]`;
      keys(d, dp, ['id', 'name', 'names', 'precincts'], ['id', 'name']);
      name(d, dp, 'name');
      texts(d, dp, 'names', 300, false);
      const ps = tables(d, dp, 'precincts');
      if (ps.length === 0) problem(`${dp}.precincts`, 'at least one precinct');
      const district: District = { id: ident(d, dp), region: ri, precincts: [] };
      ps.forEach((p, pi) => {
        const pp = `${dp}.precincts[${pi}]`;
        keys(p, pp, ['id', 'name', 'names'], ['id', 'name']);
        name(p, pp, 'name');
        texts(p, pp, 'names', 300, false);
        district.precincts.push(ident(p, pp));
      });
      region.districts.push(m.districts.length);
      m.districts.push(district);
      m.precincts.push(...district.precincts);
    });
    m.regions.push(region);
  });
  unique(m.regions.map((r) => r.id), 'regions');
  unique(m.districts.map((d) => d.id), 'districts');
  unique(m.precincts, 'precincts');
}

const CONTEST_KEYS = ['id', 'kind', 'title', 'titles', 'descriptions', 'min', 'max', 'option_max', 'regions', 'districts', 'order', 'options'];

function scopeList(c: Table, cp: string, k: string, known: string[]): string[] | null {
  if (!(k in c)) return null;
  const v = c[k];
  if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'string')) return problem(`${cp}.${k}`, 'a non-empty array of strings');
  for (const x of v as string[]) if (!known.includes(x)) problem(`${cp}.${k}`, `"${x}" is not in the manifest`);
  unique(v as string[], `${cp}.${k}`);
  return v as string[];
}

function contests(root: Table, m: Manifest, kind: string): void {
  const cs = tables(root, '', 'contests');
  if (cs.length === 0) problem('contests', 'at least one contest');
  const U32 = 2n ** 32n - 1n;
  const inStyle: boolean[][] = m.districts.map(() => []);
  cs.forEach((c, ci) => {
    const cp = `contests[${ci}]`;
    keys(c, cp, CONTEST_KEYS, ['id', 'kind', 'title', 'min', 'max', 'options']);
    const id = ident(c, cp);
    const ck = str(c, cp, 'kind');
    if (!['question', 'candidates', 'party-list'].includes(ck)) problem(`${cp}.kind`, 'unknown contest kind');
    if (kind === 'referendum' && ck !== 'question') problem(`${cp}.kind`, 'a referendum has only questions');
    name(c, cp, 'title');
    texts(c, cp, 'titles', 300, false);
    texts(c, cp, 'descriptions', 2000, true);
    const min = int(c, cp, 'min', 0n, U32);
    const max = int(c, cp, 'max', 0n, U32);
    const optionMax = int(c, cp, 'option_max', 0n, U32, 1n);
    if (max < 1) problem(`${cp}.max`, 'must be at least 1');
    if (optionMax < 1 || optionMax > 255) problem(`${cp}.option_max`, 'must be within 1..255');
    if ('order' in c) {
      const o = str(c, cp, 'order');
      if (o !== 'manifest' && o !== 'random') problem(`${cp}.order`, 'must be "manifest" or "random"');
    }
    const opts = tables(c, cp, 'options');
    if (opts.length < 1 || opts.length > 512) problem(`${cp}.options`, '1 to 512 options');
    opts.forEach((o, oi) => {
      const op = `${cp}.options[${oi}]`;
      keys(o, op, ['id', 'name', 'names', 'party', 'parties', 'descriptions'], ['id', 'name']);
      ident(o, op);
      name(o, op, 'name');
      if ('party' in o) str(o, op, 'party');
      texts(o, op, 'names', 300, false);
      texts(o, op, 'parties', 300, false);
      texts(o, op, 'descriptions', 2000, true);
    });
    unique(opts.map((o) => o.id as string), `${cp}.options`);
    if (!(min <= max && max <= opts.length * optionMax && max - min <= 255)) problem(cp, 'the shape breaks min ≤ max ≤ options × option_max, max − min ≤ 255');
    const regions = scopeList(c, cp, 'regions', m.regions.map((r) => r.id));
    const districts = scopeList(c, cp, 'districts', m.districts.map((d) => d.id));
    if (regions && districts) problem(cp, 'regions and districts together');
    m.districts.forEach((d, di) => {
      const yes = regions ? regions.includes(m.regions[d.region].id) : districts ? districts.includes(d.id) : true;
      inStyle[di][ci] = yes;
    });
    m.contests.push({ id, shape: { options: opts.length, option_max: optionMax, min, max } });
  });
  unique(m.contests.map((c) => c.id), 'contests');
  m.styles = inStyle.map((row) => m.contests.map((_, ci) => ci).filter((ci) => row[ci]));
  // Ballot size (§R2.1): the style has 1..64 contests and its audited ballot fits one entry.
  m.styles.forEach((style, di) => {
    const d = m.districts[di];
    if (style.length < 1 || style.length > 64) problem(`districts.${d.id}`, `its style has ${style.length} contests (1..64)`);
    let B = 103 + 34 + d.id.length;
    let options = 0;
    for (const ci of style) {
      const s = m.contests[ci].shape;
      B += 14 + s.options * (64 + 128 * (s.option_max + 1)) + 128 * (s.max - s.min + 1);
      options += s.options;
    }
    if (5 + B + 33 * options > 65528) problem(`districts.${d.id}`, 'its audited ballot would not fit one entry');
  });
}

/** Parses and validates the concatenated manifest bytes (§R2.1). */
export function readManifest(bytes: Uint8Array): Manifest {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return problem('manifest', 'not UTF-8');
  }
  let root: Table;
  try {
    root = parse(text, { integersAsBigInt: true }) as Table;
  } catch (e) {
    return problem('manifest', `not TOML 1.0: ${(e as Error).message.split('\n')[0]}`);
  }
  keys(root, '', ['id', 'title', 'kind', 'schedule', 'revote', 'reconciliation', 'trustees', 'regions', 'contests'], [
    'id', 'title', 'kind', 'schedule', 'revote', 'reconciliation', 'trustees', 'regions', 'contests',
  ]);
  const m: Manifest = {
    id: ident(root, ''),
    hash: sha256(bytes),
    revote: 'last-counts',
    paper: 'evote-annulled',
    n: 0,
    t: 0,
    regions: [],
    districts: [],
    precincts: [],
    contests: [],
    styles: [],
  };
  const title = table(root, '', 'title');
  keys(title, 'title', ['ru', 'en'], []);
  const titles = ['ru', 'en'].filter((l) => l in title).map((l) => str(title, 'title', l));
  if (!titles.some(hasText)) problem('title', 'needs a text in ru or en');
  const kind = str(root, '', 'kind');
  if (!['referendum', 'election', 'poll'].includes(kind)) problem('kind', 'unknown kind');
  schedule(root);
  const revote = table(root, '', 'revote');
  keys(revote, 'revote', ['policy', 'min_interval_seconds'], ['policy']);
  const policy = str(revote, 'revote', 'policy');
  if (policy !== 'forbidden' && policy !== 'last-counts') problem('revote.policy', 'unknown policy');
  if ('min_interval_seconds' in revote) {
    if (policy === 'forbidden') problem('revote.min_interval_seconds', 'only with "last-counts"');
    int(revote, 'revote', 'min_interval_seconds', 0n, 2n ** 64n);
  }
  m.revote = policy as Manifest['revote'];
  const rec = table(root, '', 'reconciliation');
  keys(rec, 'reconciliation', ['paper_after_evote'], ['paper_after_evote']);
  const paper = str(rec, 'reconciliation', 'paper_after_evote');
  if (paper !== 'evote-stands' && paper !== 'evote-annulled') problem('reconciliation.paper_after_evote', 'unknown policy');
  m.paper = paper as Manifest['paper'];
  const tr = table(root, '', 'trustees');
  keys(tr, 'trustees', ['n', 't'], ['n', 't']);
  m.n = int(tr, 'trustees', 'n', 0n, 65535n);
  m.t = int(tr, 'trustees', 't', 0n, 65535n);
  if (!(1 <= m.t && m.t <= m.n && m.n <= 64)) problem('trustees', 'needs 1 ≤ t ≤ n ≤ 64');
  places(root, m);
  contests(root, m, kind);
  return m;
}
