// record.md §R11 (partial decryptions, verified against the published
// tally with their labels) and §R12 (results: the combination of at least t
// valid sets, and the district, region and total records).
import { Reader, concat, equalBytes, fail, u16, u64, u8 } from '../crypto/bytes.js';
import { H, Point, mulPub } from '../crypto/group.js';
import { PartialDecryption, decodePartial, lagrange, partialContext, verifyPartial } from '../crypto/threshold.js';
import { Batch } from './batch.js';
import { Entry } from './envelope.js';
import { ChunkSeq, readId, readPosition } from './read.js';
import { why } from './report.js';
import { State } from './state.js';
import { idBytes } from './tally.js';

interface TrusteeSet {
  seq: ChunkSeq;
  partials: PartialDecryption[];
  ok: boolean;
}

/** §R11.2. */
export const label = (d: string, c: string, o: number): Uint8Array => concat(idBytes(d), idBytes(c), u16(o));

export class Partials {
  readonly sets = new Map<number, TrusteeSet>();

  constructor(private readonly st: State) {}

  entry(e: Entry): void {
    const { st } = this;
    const CHECK = 'partial_decryptions';
    let j = 0;
    try {
      const r = new Reader(e.payload);
      const v = r.u8();
      if (v !== 1) fail('unknown_version', `partial_decryption version ${v}`);
      j = r.u16();
      if (j < 1 || j > 64) fail('out_of_bounds', `trustee ${j}`);
      const pos = readPosition(r);
      const k = r.u32();
      if (r.remaining() !== 131 * k) fail(r.remaining() < 131 * k ? 'truncated' : 'trailing_bytes', `${k} partial decryptions need ${131 * k} bytes`);
      if (!st.trusteeKeys.has(j)) fail('bad_trustee_index', `trustee ${j} is not a qualified trustee`);
      let set = this.sets.get(j);
      if (!set) this.sets.set(j, (set = { seq: new ChunkSeq(), partials: [], ok: true }));
      if (set.seq.complete) fail('inconsistent_chunks', `a second set of trustee ${j}`);
      try {
        set.seq.accept(pos);
      } catch (err) {
        set.ok = false;
        throw err;
      }
      for (let i = 0; i < k; i++) {
        const p = decodePartial(r.bytes(131));
        if (p.trustee !== j) {
          set.ok = false;
          fail('bad_trustee_index', `a partial decryption names trustee ${p.trustee} in trustee ${j}'s entry`);
        }
        set.partials.push(p);
      }
      if (set.seq.complete) this.verifySet(j, set, e.index);
    } catch (err) {
      st.checks.fail(CHECK, e.index, why(err));
    }
  }

  private verifySet(j: number, set: TrusteeSet, index: number): void {
    const { st } = this;
    const tally = st.tally;
    if (!tally || !st.fingerprint) {
      set.ok = false;
      return;
    }
    const cts = tally.flatMap((rec) => rec.sums.map((c, o) => ({ c, label: label(rec.district, rec.contest, o) })));
    if (set.partials.length !== cts.length) {
      set.ok = false;
      st.checks.fail('partial_decryptions', index, `trustee ${j} has ${set.partials.length} partial decryptions for ${cts.length} tally ciphertexts`);
      return;
    }
    const Kj = st.trusteeKeys.get(j)!;
    // One batch for the whole set (crypto.md §6.1); alone only if it fails.
    const batch = new Batch();
    set.partials.forEach((p, i) => batch.dleq(st.fingerprint!, partialContext(j, cts[i].c.beta, cts[i].label), cts[i].c.alpha, Kj, p.share, p.proof));
    st.checks.checked('partial_decryptions', set.partials.length);
    if (batch.holds()) return;
    set.partials.forEach((p, i) => {
      try {
        verifyPartial(st.fingerprint!, cts[i].c, cts[i].label, Kj, p);
      } catch (err) {
        set.ok = false;
        st.checks.fail('partial_decryptions', index, `trustee ${j}, ciphertext ${i}: ${why(err)}`);
      }
    });
  }

  /** The complete and valid sets, by trustee (§X4.1 `combination`). */
  validSets(): [number, PartialDecryption[]][] {
    return [...this.sets].filter(([, s]) => s.ok && s.seq.complete && s.partials.length > 0).map(([j, s]) => [j, s.partials] as [number, PartialDecryption[]]).sort((a, b) => a[0] - b[0]);
  }
}

interface ResultRecord {
  scope: number;
  id: string | null;
  contest: string;
  ballots: bigint;
  counts: bigint[];
  bytes: Uint8Array;
  entry: number;
}

function encodeResult(scope: number, id: string | null, contest: string, ballots: bigint, counts: bigint[]): Uint8Array {
  return concat(u8(scope), id === null ? new Uint8Array(0) : idBytes(id), idBytes(contest), u64(ballots), u16(counts.length), ...counts.map((c) => u64(c)));
}

export class Results {
  private seq = new ChunkSeq();
  private records: ResultRecord[] = [];

  constructor(
    private readonly st: State,
    private readonly partials: Partials,
  ) {}

  entry(e: Entry): void {
    try {
      if (this.seq.complete) fail('inconsistent_chunks', 'a second set of results');
      const r = new Reader(e.payload);
      const v = r.u8();
      if (v !== 1) fail('unknown_version', `results version ${v}`);
      const pos = readPosition(r);
      const n = r.u32();
      const records: ResultRecord[] = [];
      for (let i = 0; i < n; i++) {
        const start = r.offset;
        const scope = r.u8();
        if (scope > 2) fail('unknown_tag', `scope ${scope}`);
        const id = scope === 2 ? null : readId(r);
        const contest = readId(r);
        const ballots = r.u64();
        const k = r.u16();
        if (k < 1 || k > 512) fail('out_of_bounds', `${k} counts`);
        const counts: bigint[] = [];
        for (let o = 0; o < k; o++) counts.push(r.u64());
        records.push({ scope, id, contest, ballots, counts, bytes: e.payload.subarray(start, r.offset), entry: e.index });
      }
      r.end();
      this.seq.accept(pos);
      this.records.push(...records);
    } catch (err) {
      this.st.checks.fail('results', e.index, why(err));
    }
  }

  /** At the end of the board: `combination` and `results` (§R12). */
  finish(): void {
    const { st } = this;
    const complete = this.seq.complete;
    if (!complete) st.checks.fail('results', null, this.seq.started ? 'the results are incomplete' : 'no results on the board');
    this.combination(complete ? this.records : []);
    if (complete) this.compare();
  }

  private combination(records: ResultRecord[]): void {
    const { st } = this;
    st.checks.checked('combination');
    const sets = this.partials.validSets();
    if (sets.length < st.t || st.t === 0) {
      st.checks.fail('combination', null, `${sets.length} complete and valid sets of partial decryptions, the threshold is ${st.t}`);
      return;
    }
    const tally = st.tally;
    if (!tally || !st.manifest) return;
    const use = sets.slice(0, st.t);
    const lam = lagrange(use.map(([j]) => j));
    let flat = 0;
    tally.forEach((rec, i) => {
      const got = records[i];
      const contest = st.manifest!.contests.find((c) => c.id === rec.contest);
      rec.sums.forEach((c, o) => {
        const at = flat++;
        if (!got || got.scope !== 0 || got.id !== rec.district || got.contest !== rec.contest || got.counts.length !== rec.sums.length) return;
        st.checks.checked('combination');
        const D = use.reduce((acc, [, ps], k) => acc.add(mulPub(ps[at].share, lam[k])), Point.ZERO);
        const M = c.beta.subtract(D);
        const m = got.counts[o];
        const bound = rec.ballots * BigInt(contest?.shape.option_max ?? 0);
        const mH = m === 0n ? Point.ZERO : mulPub(H, m);
        if (m > bound || !mH.equals(M))
          st.checks.fail('combination', got.entry, `(${rec.district}, ${rec.contest}) option ${o}: the count ${m} is not the decryption`);
      });
    });
  }

  private compare(): void {
    const { st } = this;
    const m = st.manifest;
    if (!m) return;
    const tally = st.tally ?? [];
    const want: Uint8Array[] = [];
    // 1. districts, in tally order, with the published counts (checked by `combination`).
    const districtCounts = new Map<string, { ballots: bigint; counts: bigint[] }>();
    tally.forEach((rec, i) => {
      const got = this.records[i];
      const counts = got && got.scope === 0 && got.counts.length === rec.sums.length ? got.counts : rec.sums.map(() => -1n);
      districtCounts.set(`${rec.district}/${rec.contest}`, { ballots: rec.ballots, counts });
      want.push(encodeResult(0, rec.district, rec.contest, rec.ballots, counts.map((c) => (c < 0n ? 0xffffffffffffffffn : c))));
    });
    const sum = (districts: number[], ci: number) => {
      const c = m.contests[ci];
      let ballots = 0n;
      const counts = Array.from({ length: c.shape.options }, () => 0n);
      let any = false;
      for (const di of districts) {
        const rec = districtCounts.get(`${m.districts[di].id}/${c.id}`);
        if (!m.styles[di].includes(ci)) continue;
        any = true;
        if (!rec) continue;
        ballots += rec.ballots;
        rec.counts.forEach((x, o) => (counts[o] += x));
      }
      return any ? { ballots, counts } : null;
    };
    // 2. regions; 3. total.
    m.regions.forEach((rg) =>
      m.contests.forEach((c, ci) => {
        const s = sum(rg.districts, ci);
        if (s) want.push(encodeResult(1, rg.id, c.id, s.ballots, s.counts));
      }),
    );
    const all = m.districts.map((_, i) => i);
    m.contests.forEach((c, ci) => {
      const s = sum(all, ci);
      if (s) want.push(encodeResult(2, null, c.id, s.ballots, s.counts));
    });
    st.checks.checked('results', want.length);
    for (let i = 0; i < Math.max(want.length, this.records.length); i++) {
      const got = this.records[i];
      if (!got) st.checks.fail('results', null, `results record ${i} is missing`);
      else if (!want[i]) st.checks.fail('results', got.entry, `results record ${i} is not expected`);
      else if (!equalBytes(got.bytes, want[i])) st.checks.fail('results', got.entry, `results record ${i} (${got.id ?? 'total'}, ${got.contest}) differs from the recomputed one`);
    }
  }
}

