// record.md §R9: reconciliation chunks; each listed credential is checked on
// its own and, if it passes, applied (reasons 1 and 2 annul).
import { Reader, fail } from '../crypto/bytes.js';
import { decodeElement } from '../crypto/group.js';
import { Entry } from './envelope.js';
import { ChunkSeq, compareBytes, keyOf, readPosition } from './read.js';
import { why } from './report.js';
import { countOut } from './tally.js';
import { State } from './state.js';

const CHECK = 'reconciliation';

export class Reconciliation {
  private seq = new ChunkSeq();
  private last: Uint8Array | null = null;

  constructor(private readonly st: State) {}

  entry(e: Entry): void {
    const { checks, manifest } = this.st;
    let items: Uint8Array;
    let n: number;
    try {
      const r = new Reader(e.payload);
      const v = r.u8();
      if (v !== 1) fail('unknown_version', `reconciliation version ${v}`);
      const policy = r.u8();
      if (policy !== 1 && policy !== 2) fail('unknown_tag', `policy ${policy}`);
      if (!manifest) fail('no_manifest', 'no valid manifest');
      const want = manifest.paper === 'evote-stands' ? 1 : 2;
      if (policy !== want) fail('wrong_policy', `policy ${policy}, the manifest says ${manifest.paper}`);
      const pos = readPosition(r);
      n = r.u32();
      if (r.remaining() !== 33 * n) fail(r.remaining() < 33 * n ? 'truncated' : 'trailing_bytes', `${n} items need ${33 * n} bytes`);
      if (this.seq.complete) fail('inconsistent_chunks', 'a second reconciliation');
      this.seq.accept(pos);
      items = r.bytes(33 * n);
    } catch (err) {
      checks.fail(CHECK, e.index, why(err));
      return;
    }
    checks.checked(CHECK, n);
    for (let i = 0; i < n; i++) {
      const P = items.subarray(33 * i, 33 * i + 32);
      const reason = items[33 * i + 32];
      const prev = this.last;
      this.last = P;
      try {
        if (prev && compareBytes(prev, P) >= 0) fail('not_canonical_order', 'credentials are not strictly increasing');
        decodeElement(P, false);
        const allowed = reason === 2 || (reason === 1 && manifest!.paper === 'evote-annulled') || (reason === 3 && manifest!.paper === 'evote-stands');
        if (!allowed) fail('bad_reason', `reason ${reason} is unknown or not allowed under ${manifest!.paper}`);
        const voter = this.st.voters.get(keyOf(P));
        if (!voter) fail('unknown_credential', 'the credential is not sealed');
        if (!voter.voted) fail('no_ballot', 'the credential has no valid ballot: there is no e-vote to annul');
        if (reason !== 3 && !voter.annulled) {
          voter.annulled = true;
          if (voter.counted) countOut(this.st, voter.district, voter.counted);
        }
      } catch (err) {
        checks.fail(CHECK, e.index, `item ${i}: ${why(err)}`);
      }
    }
  }
}
