// The public ballot box: every ballot and audited ballot on the board with
// its tracking code, read from the board's entries and hashed here
// (record.md §R6.2), never taken from the server's word. Also resolves a
// short receipt code (spec/receipt-code.md) to the full tracking code.
import * as U from '../crypto/index.js';
import { boardApi } from './api.js';
import { matchesPrefix } from './receiptcode.js';

export interface BoxEntry {
  index: number;
  kind: 'ballot' | 'audited_ballot';
  tracking: string;
  /** The ballot's credential (bytes 1–32 of the ballot, record.md §R6), hex. */
  credential: string;
  /** A ballot followed by a later ballot of the same credential: it does not count (record.md §R6.3). */
  replaced?: boolean;
}

/**
 * Marks the ballots that do not count because a later ballot of the same
 * credential follows them on the board (record.md §R6.3: under
 * `last-counts` the last one counts; under `forbidden` a valid board holds
 * one per credential, so nothing is marked). Entries are in board order.
 */
export function markReplaced(entries: BoxEntry[]): BoxEntry[] {
  const last = new Map<string, number>();
  for (const e of entries) if (e.kind === 'ballot') last.set(e.credential, e.index);
  return entries.map((e) => (e.kind === 'ballot' && last.get(e.credential) !== e.index ? { ...e, replaced: true } : e));
}

const PAGE = 200;

/** The ballot entries among board entries [start, end). */
async function scan(start: number, end: number): Promise<BoxEntry[]> {
  const out: BoxEntry[] = [];
  let at = start;
  while (at < end) {
    const page = await boardApi.entries(at, Math.min(end, at + PAGE));
    if (page.entries.length === 0) break;
    for (const e of page.entries) {
      const { kind, payload } = U.parseEnvelope(U.base64Decode(e.entry));
      if (kind === U.KIND_BALLOT) out.push({ index: e.index, kind: 'ballot', tracking: U.toHex(U.trackingCode(payload)), credential: U.toHex(payload.subarray(1, 33)) });
      else if (kind === U.KIND_AUDITED_BALLOT) {
        const r = new U.Reader(payload);
        r.u8();
        const ballot = r.bytes(r.u32());
        out.push({ index: e.index, kind: 'audited_ballot', tracking: U.toHex(U.trackingCode(ballot)), credential: U.toHex(ballot.subarray(1, 33)) });
      }
    }
    at = page.entries[page.entries.length - 1].index + 1;
  }
  return out;
}

let all: { size: number; entries: Promise<BoxEntry[]> } | null = null;

/** Every ballot entry on a board of `size` entries (cached for this size). */
export function ballotBox(size: number): Promise<BoxEntry[]> {
  if (!all || all.size !== size) all = { size, entries: scan(0, size).then(markReplaced) };
  return all.entries;
}

/** The tracking codes on the board starting with a short code's 75 bits. */
export async function resolveShort(prefixBits: string, size: number): Promise<BoxEntry[]> {
  return (await ballotBox(size)).filter((e) => matchesPrefix(e.tracking, prefixBits));
}
