// record.md §R4: sealed credential lists. A chunk seals its credentials only
// if it passes every rule; the current list is the last one with a chunk
// that passed.
import { Reader, fail } from '../crypto/bytes.js';
import { decodeElement } from '../crypto/group.js';
import { Entry } from './envelope.js';
import { compareBytes, keyOf, readId, readPosition } from './read.js';
import { why } from './report.js';
import { State } from './state.js';

const CHECK = 'credential_lists';

export class CredentialLists {
  private current: { district: number; next: number; count: number; last: Uint8Array | null } | null = null;
  private complete = new Set<number>();
  private started = new Set<number>();

  constructor(private readonly st: State) {}

  entry(e: Entry): void {
    const { checks, manifest } = this.st;
    try {
      const r = new Reader(e.payload);
      const v = r.u8();
      if (v !== 1) fail('unknown_version', `credential list version ${v}`);
      const id = readId(r);
      const pos = readPosition(r);
      const n = r.u32();
      if (r.remaining() !== 32 * n) fail(r.remaining() < 32 * n ? 'truncated' : 'trailing_bytes', `${n} credentials need ${32 * n} bytes`);
      checks.checked(CHECK, n);
      const creds: Uint8Array[] = [];
      for (let i = 0; i < n; i++) creds.push(r.bytes(32));
      if (!manifest) fail('no_manifest', 'a credential list without a valid manifest');
      const district = manifest.districts.findIndex((d) => d.id === id);
      if (district < 0) fail('unknown_district', `district "${id}" is not in the manifest`);
      const cur = this.current;
      let last: Uint8Array | null;
      if (cur && cur.district === district && pos.index === cur.next && pos.count === cur.count && cur.next < cur.count) last = cur.last;
      else if (pos.index === 0 && (!cur || district > cur.district) && !this.started.has(district)) last = null;
      else fail('out_of_order', `chunk ${pos.index}/${pos.count} of "${id}" neither continues the current list nor starts a later district's`);
      for (const c of creds) {
        decodeElement(c, false);
        if (last && compareBytes(last, c) >= 0) fail('not_canonical_order', 'credentials are not strictly increasing');
        const other = this.st.voters.get(keyOf(c));
        if (other && other.district !== district) fail('duplicate_credential', 'a credential already sealed in another district');
        if (other) fail('not_canonical_order', 'a credential sealed twice');
        last = c;
      }
      for (const c of creds) {
        this.st.voters.set(keyOf(c), { district, voted: false, counted: null, countedAt: -1, annulled: false });
      }
      this.st.sealedCount += creds.length;
      this.started.add(district);
      this.current = { district, next: pos.index + 1, count: pos.count, last };
      if (pos.index + 1 === pos.count) this.complete.add(district);
    } catch (err) {
      checks.fail(CHECK, e.index, why(err));
    }
  }

  /** At `voting_opened`: every district without a complete list fails, once. */
  opened(): void {
    const m = this.st.manifest;
    if (!m) return;
    m.districts.forEach((d, i) => {
      if (!this.complete.has(i)) this.st.checks.fail(CHECK, null, `district "${d.id}" has no complete sealed list when voting opens`);
    });
  }
}
