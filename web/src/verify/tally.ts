// record.md §R10: the encrypted tally, compared byte for byte with the sums
// recomputed from the counted ballots (§R6.3, §R9).
import { Reader, concat, equalBytes, fail, u16, u64, u8, utf8 } from '../crypto/bytes.js';
import { ContestShape, derivedCiphertext, isExact, sentOptions } from '../crypto/ballot.js';
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

function sumsOf(st: State): NonNullable<State['sums']> {
  if (!st.sums) {
    const m = st.manifest!;
    const zero = (): Ciphertext => ({ alpha: Point.ZERO, beta: Point.ZERO });
    st.sums = {
      ballots: m.districts.map(() => 0n),
      cts: m.districts.map((_, d) => m.styles[d].map((ci) => Array.from({ length: m.contests[ci].shape.options }, zero))),
    };
  }
  return st.sums;
}

/** The bytes kept for a counted ballot: its sent ciphertexts (decoded points carry their encodings). */
export function keepCiphertexts(contests: Ciphertext[][], shapes: ContestShape[]): Uint8Array {
  return concat(...contests.flatMap((cts, k) => cts.slice(0, sentOptions(shapes[k])).map(encodeCiphertext)));
}

function unkeep(bytes: Uint8Array, shapes: ContestShape[]): Ciphertext[][] {
  const r = new Reader(bytes);
  return shapes.map((s) => {
    const sent = readCiphertexts(r, sentOptions(s));
    return isExact(s) ? [...sent, derivedCiphertext(s, sent)] : sent;
  });
}

/** Adds a ballot's ciphertexts to its district's running sums (§R10). */
export function countIn(st: State, district: number, contests: Ciphertext[][]): void {
  const sums = sumsOf(st);
  sums.ballots[district]++;
  contests.forEach((cts, k) => cts.forEach((c, o) => (sums.cts[district][k][o] = addCiphertexts(sums.cts[district][k][o], c))));
}

/** Takes a kept ballot out of the running sums (superseded, §R6.3, or annulled, §R9). */
export function countOut(st: State, district: number, kept: Uint8Array): void {
  const m = st.manifest!;
  const sums = sumsOf(st);
  sums.ballots[district]--;
  unkeep(kept, m.styles[district].map((ci) => m.contests[ci].shape)).forEach((cts, k) =>
    cts.forEach((c, o) => {
      const s = sums.cts[district][k][o];
      sums.cts[district][k][o] = { alpha: s.alpha.subtract(c.alpha), beta: s.beta.subtract(c.beta) };
    }),
  );
}

/** The tally records recomputed from the board (tally order, §R10). */
export function expectedTally(st: State): Uint8Array[] {
  const m = st.manifest!;
  const sums = sumsOf(st);
  const out: Uint8Array[] = [];
  m.districts.forEach((d, di) =>
    m.styles[di].forEach((ci, k) => {
      const c = m.contests[ci];
      out.push(concat(idBytes(d.id), idBytes(c.id), u64(sums.ballots[di]), u16(c.shape.options), ...sums.cts[di][k].map(encodeCiphertext)));
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
