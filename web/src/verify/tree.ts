// board.md §B2: the RFC 9162 tree of the entries, built as they stream in.
// Leaf hashes are kept (32 bytes an entry) so that the root of any earlier
// prefix can be recomputed for a `cosigned_checkpoint` entry (§B5.3).
import { EMPTY_ROOT, leafHash, nodeHash } from '../crypto/board.js';

export class Tree {
  private leaves = new Uint8Array(32 * 1024);
  private n = 0;
  /** Perfect subtrees of the current size, largest first: [height, hash]. */
  private frontier: [number, Uint8Array][] = [];

  get size(): number {
    return this.n;
  }

  append(entry: Uint8Array): void {
    const h = leafHash(entry);
    if (32 * (this.n + 1) > this.leaves.length) {
      const bigger = new Uint8Array(this.leaves.length * 2);
      bigger.set(this.leaves);
      this.leaves = bigger;
    }
    this.leaves.set(h, 32 * this.n);
    this.n++;
    let top: [number, Uint8Array] = [0, h];
    while (this.frontier.length && this.frontier[this.frontier.length - 1][0] === top[0]) {
      const [height, left] = this.frontier.pop()!;
      top = [height + 1, nodeHash(left, top[1])];
    }
    this.frontier.push(top);
  }

  /** The root of all entries so far. */
  root(): Uint8Array {
    if (this.n === 0) return EMPTY_ROOT;
    let r = this.frontier[this.frontier.length - 1][1];
    for (let i = this.frontier.length - 2; i >= 0; i--) r = nodeHash(this.frontier[i][1], r);
    return r;
  }

  /** MTH of the first `size` entries (size ≤ the current size). */
  rootAt(size: number): Uint8Array {
    if (size === 0) return EMPTY_ROOT;
    const mth = (start: number, len: number): Uint8Array => {
      if (len === 1) return this.leaves.slice(32 * start, 32 * start + 32);
      let k = 1;
      while (k * 2 < len) k *= 2;
      return nodeHash(mth(start, k), mth(start + k, len - k));
    };
    return mth(0, size);
  }
}
