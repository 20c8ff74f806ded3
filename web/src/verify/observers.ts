// record.md §R16: the observer list, and board.md §B10.3: every cosignature
// line on the final checkpoint must be a valid one by a listed observer.
import { Reader, concat, fail, toHex, u8 } from '../crypto/bytes.js';
import { VerifierKey, base64Encode, parseVerifierKey } from '../crypto/board.js';
import { cosigners } from './checkpoints.js';
import { Entry } from './envelope.js';
import { compareBytes } from './read.js';
import { why } from './report.js';
import { State } from './state.js';

const CHECK = 'observers';

export class Observers {
  list: VerifierKey[] | null = null;

  constructor(private readonly st: State) {}

  entry(e: Entry): void {
    const { checks } = this.st;
    checks.checked(CHECK);
    try {
      const r = new Reader(e.payload);
      r.bytes(2); // version and sub-tag, read by envelope.ts
      const n = r.u8();
      if (n > 99) fail('out_of_bounds', `${n} observers`);
      const keys: VerifierKey[] = [];
      let prev: Uint8Array | null = null;
      for (let i = 0; i < n; i++) {
        const raw = r.bytes(r.u8());
        let text: string;
        try {
          text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
        } catch {
          return fail('bad_key', `key ${i} is not UTF-8`);
        }
        let k: VerifierKey;
        try {
          k = parseVerifierKey(text);
        } catch (err) {
          return fail('bad_key', `key ${i}: ${why(err)}`);
        }
        const canonical = `${k.name}+${toHex(k.keyId)}+${base64Encode(concat(u8(k.type), k.publicKey))}`;
        if (k.type !== 0x04 || canonical !== text) fail('bad_key', `key ${i} is not an observer key in its canonical form`);
        if (prev && compareBytes(prev, raw) >= 0) fail('not_canonical_order', 'keys are not strictly increasing');
        prev = raw;
        keys.push(k);
      }
      r.end();
      this.list = keys;
    } catch (err) {
      checks.fail(CHECK, e.index, why(err));
    }
  }

  /** With a list on the board: the final checkpoint's cosignature lines (§B10.3). */
  finalNote(note: string, checkpointOk: boolean): void {
    if (!this.list || !checkpointOk) return;
    const { checks, boardKey } = this.st;
    checks.checked(CHECK);
    try {
      const { valid, lines } = cosigners(note, boardKey, this.list);
      checks.note(CHECK, `${valid} of ${this.list.length} listed observers cosigned the final checkpoint`);
      if (lines > valid) checks.fail(CHECK, null, `the final checkpoint carries ${lines - valid} cosignature line(s) that are not valid cosignatures by a listed observer`);
    } catch (err) {
      checks.fail(CHECK, null, `the final checkpoint's cosignatures: ${why(err)}`);
    }
  }
}

