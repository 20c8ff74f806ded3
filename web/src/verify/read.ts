// record.md §R1: strict reading helpers shared by the payload sections:
// identifiers (§R1.2) and chunk sequences (§R1.3).
import { Reader, fail } from '../crypto/bytes.js';
import { isIdentifier } from './manifest.js';

export { Reader };

/** §R1.2: `u8(len) ‖ id`; `bad_identifier` otherwise. */
export function readId(r: Reader): string {
  const n = r.u8();
  if (n < 1 || n > 64) fail('bad_identifier', `identifier length ${n}`);
  const s = String.fromCharCode(...r.bytes(n));
  if (!isIdentifier(s)) fail('bad_identifier', 'identifier with a byte outside a-z 0-9 . _ -');
  return s;
}

/** §R1.3: `u32 index ‖ u32 count`, count ≥ 1, index < count. */
export function readPosition(r: Reader): { index: number; count: number } {
  const index = r.u32();
  const count = r.u32();
  if (count < 1 || index >= count) fail('out_of_bounds', `chunk ${index} of ${count}`);
  return { index, count };
}

/** One object's chunk sequence (§R1.3): 0, 1, …, count − 1, all with the same count. */
export class ChunkSeq {
  private next = 0;
  private count = 0;
  started = false;
  get complete(): boolean {
    return this.started && this.next === this.count;
  }
  /** Accepts the next chunk or throws `inconsistent_chunks`. */
  accept(pos: { index: number; count: number }): void {
    if (this.complete) fail('inconsistent_chunks', 'a chunk after the object was complete');
    if (!this.started) {
      if (pos.index !== 0) fail('inconsistent_chunks', `the first chunk is ${pos.index}, not 0`);
      this.started = true;
      this.count = pos.count;
    } else if (pos.count !== this.count || pos.index !== this.next)
      fail('inconsistent_chunks', `chunk ${pos.index} of ${pos.count} where ${this.next} of ${this.count} was due`);
    this.next++;
  }
}

export const keyOf = (b: Uint8Array): string => String.fromCharCode(...b);

export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let k = 0; k < n; k++) if (a[k] !== b[k]) return a[k] - b[k];
  return a.length - b.length;
}
