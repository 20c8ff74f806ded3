// record.md §R10: the encrypted tally, compared byte for byte with the sums
// recomputed from the counted ballots (§R6.3, §R9).
import { Reader, concat, equalBytes, fail, u16, u64, u8, utf8 } from '../crypto/bytes.js';
import { Ciphertext, addCiphertexts, encodeCiphertext } from '../crypto/elgamal.js';
import { Point, readElement } from '../crypto/group.js';
import { Entry } from './envelope.js';
import { ChunkSeq, readId, readPosition } from './read.js';
import { why } from './report.js';
import { State, TallyRecord } from './state.js';

const CHECK = 'tally';

export const idBytes = (s: string): Uint8Array => concat(u8(s.length), utf8(s));

export function readCiphertexts(r: Reader, n: number): Ciphertext[] {
  const out: Ciphertext[] = [];
  for (let o = 0; o < n; o++) out.push({ alpha: readElement(r), beta: readElement(r) });
  return out;
}

/** The tally records recomputed from the board (tally order, §R10). */
export function expectedTally(st: State): Uint8Array[] {
  const m = st.manifest!;
  const zero = (): Ciphertext => ({ alpha: Point.ZERO, beta: Point.ZERO });
  const sums = m.districts.map((_, d) => m.styles[d].map((ci) => Array.from({ length: m.contests[ci].shape.options }, zero)));
  const ballots = m.districts.map(() => 0n);
  for (const v of st.voters.values()) {
    if (!v.counted || v.annulled) continue;
    ballots[v.district]++;
    v.counted.forEach((cts, k) => cts.forEach((c, o) => (sums[v.district][k][o] = addCiphertexts(sums[v.district][k][o], c))));
  }
  const out: Uint8Array[] = [];
  m.districts.forEach((d, di) =>
    m.styles[di].forEach((ci, k) => {
      const c = m.contests[ci];
      out.push(concat(idBytes(d.id), idBytes(c.id), u64(ballots[di]), u16(c.shape.options), ...sums[di][k].map(encodeCiphertext)));
    }),
  );
  return out;
}

export class Tally {
  private seq = new ChunkSeq();
  private records: TallyRecord[] = [];

  constructor(private readonly st: State) {}

  entry(e: Entry): void {
    try {
      if (this.seq.complete) fail('inconsistent_chunks', 'a second tally');
      const r = new Reader(e.payload);
      r.bytes(2); // version and sub-tag, read by envelope.ts
      const pos = readPosition(r);
      const n = r.u32();
      const records: TallyRecord[] = [];
      for (let i = 0; i < n; i++) {
        const start = r.offset;
        const district = readId(r);
        const contest = readId(r);
        const ballots = r.u64();
        const k = r.u16();
        if (k < 1 || k > 512) fail('out_of_bounds', `${k} options`);
        const sums = readCiphertexts(r, k);
        records.push({ district, contest, ballots, sums, bytes: e.payload.subarray(start, r.offset), entry: e.index });
      }
      r.end();
      this.seq.accept(pos);
      this.records.push(...records);
      if (this.seq.complete) this.compare();
    } catch (err) {
      this.st.checks.fail(CHECK, e.index, why(err));
    }
  }

  private compare(): void {
    const { st } = this;
    st.tally = this.records;
    if (!st.manifest) return;
    const want = expectedTally(st);
    st.checks.checked(CHECK, want.length);
    for (let i = 0; i < Math.max(want.length, this.records.length); i++) {
      const got = this.records[i];
      if (!got) st.checks.fail(CHECK, null, `tally record ${i} is missing`);
      else if (!want[i]) st.checks.fail(CHECK, got.entry, `tally record ${i} (${got.district}, ${got.contest}) is not expected`);
      else if (!equalBytes(got.bytes, want[i]))
        st.checks.fail(CHECK, got.entry, `tally record ${i} (${got.district}, ${got.contest}) differs from the recomputed sums`);
    }
  }

  finish(): void {
    if (!this.seq.complete) this.st.checks.fail(CHECK, null, this.seq.started ? 'the tally is incomplete' : 'no tally on the board');
  }
}
