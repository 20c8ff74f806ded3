// Where a record comes from: a running board (board.md §B8 tiles: the
// entry bundles up to the final checkpoint's size, §B10.1 key) or an
// exported record folder (export.md §X1).
import { fail } from '../crypto/bytes.js';
import { parseCheckpoint, parseNote } from '../crypto/board.js';
import { RecordHead } from './verifier.js';

/** §B8.1: tile index N as zero-padded groups of three digits, all but the last prefixed with `x`. */
export function tileIndexPath(n: number): string {
  let digits = String(n);
  while (digits.length % 3) digits = '0' + digits;
  const groups = digits.match(/.../g)!;
  return groups.map((g, i) => (i < groups.length - 1 ? 'x' + g : g)).join('/');
}

/** §B8.1 entry bundle path for bundle N of width W (256 = full, no suffix). */
export const bundlePath = (n: number, width: number): string => `tile/entries/${tileIndexPath(n)}${width < 256 ? `.p/${width}` : ''}`;

/** §B8.3: `u16 length ‖ entry` × width. */
export function splitBundle(b: Uint8Array, width: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let o = 0;
  while (o < b.length) {
    if (o + 2 > b.length) fail('truncated', 'an entry bundle ends inside a length');
    const len = (b[o] << 8) | b[o + 1];
    if (o + 2 + len > b.length) fail('truncated', 'an entry bundle ends inside an entry');
    out.push(b.subarray(o + 2, o + 2 + len));
    o += 2 + len;
  }
  if (out.length !== width) fail('bad_bundle', `an entry bundle of ${out.length} entries where ${width} were due`);
  return out;
}

async function get(url: string): Promise<Response> {
  const r = await fetch(url, { cache: 'no-store' });
  if (!r.ok) fail('http', `${url}: HTTP ${r.status}`);
  return r;
}

/** The board key (§B10.1) and the final checkpoint, read once at the start (export.md §X3). */
export async function boardHead(base: string): Promise<{ head: RecordHead; size: number }> {
  const boardKey = await (await get(`${base}/board/key`)).text();
  const checkpoint = await (await get(`${base}/board/checkpoint`)).text();
  let size = 0;
  try {
    size = Number(parseCheckpoint(parseNote(checkpoint).text).size);
  } catch {
    size = 0; // checkpoint.signature and checkpoint.root report it
  }
  return { head: { boardKey, checkpoint, checkpointFiles: [] }, size };
}

/** Every entry up to `size`, bundle by bundle, the next bundle fetched while this one is verified. */
export async function* boardEntries(base: string, size: number): AsyncGenerator<Uint8Array> {
  const bundles = Math.ceil(size / 256);
  const fetchBundle = async (n: number): Promise<Uint8Array[]> => {
    const width = Math.min(256, size - 256 * n);
    const r = await get(`${base}/board/${bundlePath(n, width)}`);
    return splitBundle(new Uint8Array(await r.arrayBuffer()), width);
  };
  let next = bundles > 0 ? fetchBundle(0) : null;
  for (let n = 0; n < bundles; n++) {
    const entries = await next!;
    next = n + 1 < bundles ? fetchBundle(n + 1) : null;
    next?.catch(() => undefined);
    yield* entries;
  }
}
