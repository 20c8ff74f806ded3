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
      if (kind === U.KIND_BALLOT) out.push({ index: e.index, kind: 'ballot', tracking: U.toHex(U.trackingCode(payload)) });
      else if (kind === U.KIND_AUDITED_BALLOT) {
        const r = new U.Reader(payload);
        r.u8();
        out.push({ index: e.index, kind: 'audited_ballot', tracking: U.toHex(U.trackingCode(r.bytes(r.u32()))) });
      }
    }
    at = page.entries[page.entries.length - 1].index + 1;
  }
  return out;
}

let all: { size: number; entries: Promise<BoxEntry[]> } | null = null;

/** Every ballot entry on a board of `size` entries (cached for this size). */
export function ballotBox(size: number): Promise<BoxEntry[]> {
  if (!all || all.size !== size) all = { size, entries: scan(0, size) };
  return all.entries;
}

/** The tracking codes on the board starting with a short code's 75 bits. */
export async function resolveShort(prefixBits: string, size: number): Promise<BoxEntry[]> {
  return (await ballotBox(size)).filter((e) => matchesPrefix(e.tracking, prefixBits));
}
