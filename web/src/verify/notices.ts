// record.md §R13–§R14 (complaints and answers) and §R15 (precinct list
// hashes, with the voted-online rows comparison).
import { Reader, fail, toHex } from '../crypto/bytes.js';
import { Entry } from './envelope.js';
import { readId } from './read.js';
import { why } from './report.js';
import { State } from './state.js';

/** §R13 text: 1 to 4,000 bytes of UTF-8 without a control character (Cc). */
function readText(r: Reader): void {
  const n = r.u16();
  const b = r.bytes(n);
  if (n < 1 || n > 4000) fail('bad_text', `a text of ${n} bytes`);
  let s: string;
  try {
    s = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(b);
  } catch {
    return fail('bad_text', 'the text is not UTF-8');
  }
  if (/[\u0000-\u001f\u007f-\u009f]/u.test(s)) fail('bad_text', 'the text holds a control character');
}

export class Complaints {
  private lastNumber = 0n;
  private filed = new Set<bigint>();
  private answered = new Set<bigint>();

  constructor(private readonly st: State) {}

  entry(e: Entry, answer: boolean): void {
    const { checks } = this.st;
    checks.checked('complaints');
    try {
      if (this.st.firstManifestEntry === null) fail('before_manifest', 'before the manifest');
      const r = new Reader(e.payload);
      const v = r.u8();
      if (v !== 1) fail('unknown_version', `version ${v}`);
      const number = r.u64();
      if (number < 1n) fail('out_of_bounds', 'complaint number 0');
      if (answer) {
        const status = r.u8();
        if (status < 1 || status > 3) fail('unknown_tag', `status ${status}`);
        readText(r);
        r.end();
        if (!this.filed.has(number)) fail('unknown_complaint', `an answer to complaint ${number}, which is not on the board before it`);
        if (this.answered.has(number)) fail('second_answer', `a second answer to complaint ${number}`);
        this.answered.add(number);
      } else {
        const role = r.u8();
        if (role !== 1 && role !== 2) fail('unknown_tag', `role ${role}`);
        const flag = r.u8();
        if (flag !== 0 && flag !== 1) fail('unknown_tag', `tracking flag ${flag}`);
        if (flag === 1) r.bytes(32);
        readText(r);
        r.end();
        if (number <= this.lastNumber) fail('out_of_order', `complaint ${number} after complaint ${this.lastNumber}`);
        this.lastNumber = number;
        this.filed.add(number);
      }
    } catch (err) {
      checks.fail('complaints', e.index, `${answer ? 'answer' : 'complaint'}: ${why(err)}`);
    }
  }

  finish(): void {
    const filed = this.filed.size;
    const answered = this.answered.size;
    this.st.checks.note('complaints', `${filed} filed, ${answered} answered, ${filed - answered} open`);
  }
}

interface PrecinctList {
  index: number;
  kind: number;
  precinct: string;
  rows: bigint;
  sums: string;
  signer: string;
}

export class PrecinctLists {
  private lists: PrecinctList[] = [];

  constructor(private readonly st: State) {}

  entry(e: Entry): void {
    const { checks } = this.st;
    checks.checked('precinct_lists');
    try {
      if (this.st.firstManifestEntry === null) fail('before_manifest', 'before the manifest');
      const r = new Reader(e.payload);
      r.bytes(2); // version and sub-tag, read by envelope.ts
      const kind = r.u8();
      if (kind !== 1 && kind !== 2) fail('unknown_tag', `list kind ${kind}`);
      const precinct = readId(r);
      const rows = r.u64();
      r.bytes(32);
      const sums = toHex(r.bytes(32));
      const signer = toHex(r.bytes(96));
      r.end();
      if (kind === 2 && this.st.closed === null) fail('too_early', 'a voted-online list before voting_closed');
      this.lists.push({ index: e.index, kind, precinct, rows, sums, signer });
    } catch (err) {
      checks.fail('precinct_lists', e.index, why(err));
    }
  }

  finish(): void {
    const { st } = this;
    const m = st.manifest;
    if (!m) return;
    const bySums = new Map<string, string>();
    const lastVoted = new Map<string, PrecinctList>();
    for (const l of this.lists) {
      if (!m.precincts.includes(l.precinct)) {
        st.checks.fail('precinct_lists', l.index, `precinct "${l.precinct}" is not in the manifest`);
        continue;
      }
      const signer = bySums.get(l.sums);
      if (signer !== undefined && signer !== l.signer) st.checks.fail('precinct_lists', l.index, 'one SHA256SUMS with another key or signature');
      bySums.set(l.sums, signer ?? l.signer);
      if (l.kind === 2) lastVoted.set(l.precinct, l);
    }
    if (lastVoted.size < m.precincts.length) {
      st.checks.note('precinct_lists', `${lastVoted.size} of ${m.precincts.length} precincts published`);
      return;
    }
    st.checks.checked('precinct_lists');
    let rows = 0n;
    for (const l of lastVoted.values()) rows += l.rows;
    let voters = 0n;
    for (const v of st.voters.values()) if (v.voted) voters++;
    if (rows !== voters) st.checks.fail('precinct_lists', null, `the voted-online lists have ${rows} rows, ${voters} credentials have a valid ballot`);
  }
}

