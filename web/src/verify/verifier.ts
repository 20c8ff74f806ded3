// The whole-election verifier (spec/export.md §X3–§X4): it reads the board's
// entries once, in order, and runs every section's rules as the entries
// arrive (record.md §R1.4 order), so it works on a stream from the board's
// tiles as well as on an exported record folder.
import { Reader, concat, equalBytes, fail } from '../crypto/bytes.js';
import { VerifierKey, parseCheckpoint, parseNote } from '../crypto/board.js';
import { Ballots } from './ballots.js';
import { Ceremony } from './ceremony.js';
import { EarlierCheckpoint, checkpointFileSize, cosignedBy, noteText, readBoardKey, readEarlier, readObserverKey, verifyCheckpointNote } from './checkpoints.js';
import { CredentialLists } from './credentials.js';
import { Partials, Results } from './decryption.js';
import { Entry, KIND, SUBTAG, readEnvelope } from './envelope.js';
import { readManifest } from './manifest.js';
import { markersFinish, votingClosed, votingOpened } from './markers.js';
import { Complaints, PrecinctLists } from './notices.js';
import { Observers } from './observers.js';
import { ChunkSeq } from './read.js';
import { Reconciliation } from './reconciliation.js';
import { Checks, Report, why } from './report.js';
import { State } from './state.js';
import { Tally } from './tally.js';
import { Tree } from './tree.js';

/** What a record holds besides its entries (§X1). */
export interface RecordHead {
  boardKey: string;
  checkpoint: string;
  /** Every file in `checkpoints/`, by its name. */
  checkpointFiles: { name: string; text: string }[];
  /** Observer verifier keys the verifier is told to trust (export.md §X3.1), if any. */
  observers?: string[];
}

/** §R1.4: the item of the phase order each kind belongs to (ballots are `ballot.window`'s). */
function phaseOf(e: Entry): number | null {
  switch (e.kind) {
    case KIND.manifest:
      return 1;
    case KIND.ceremony:
      return 2;
    case KIND.credentialList:
      return 3;
    case KIND.votingOpened:
      return 4;
    case KIND.votingClosed:
      return 6;
    case KIND.reconciliation:
      return 7;
    case KIND.adminAction:
      return e.payload[1] === SUBTAG.tally ? 8 : null;
    case KIND.partialDecryption:
      return 9;
    case KIND.results:
      return 10;
    default:
      return null;
  }
}

export function unusableReport(reason: string): Report {
  const c = new Checks();
  c.unusable = reason;
  c.checked('record.files');
  c.fail('record.files', null, reason);
  return c.report(0, 0);
}

export class Verifier {
  private readonly st: State;
  private readonly checks = new Checks();
  private readonly ballots: Ballots;
  private readonly ceremony: Ceremony;
  private readonly lists: CredentialLists;
  private readonly reconciliation: Reconciliation;
  private readonly tally: Tally;
  private readonly partials: Partials;
  private readonly results: Results;
  private readonly complaints: Complaints;
  private readonly precincts: PrecinctLists;
  private readonly observers: Observers;
  private readonly earlier = new Map<number, EarlierCheckpoint[]>();
  private readonly manifestSeq = new ChunkSeq();
  private manifestChunks: Uint8Array[] = [];
  private manifestDone = false;
  private phase = 0;
  private finalOk = false;

  private readonly trusted: VerifierKey[];

  /** Throws (the record is unusable) if board-key.txt or a trusted observer key does not parse. */
  constructor(private readonly head: RecordHead) {
    let key: VerifierKey;
    try {
      key = readBoardKey(head.boardKey);
    } catch (e) {
      throw fail('unusable', `board-key.txt: ${why(e)}`);
    }
    try {
      this.trusted = (head.observers ?? []).map(readObserverKey);
    } catch (e) {
      throw fail('unusable', `observer key: ${why(e)}`);
    }
    this.checks.checked('record.files');
    this.st = {
      checks: this.checks,
      tree: new Tree(),
      boardKey: key,
      firstManifestEntry: null,
      manifest: null,
      key: null,
      fingerprint: null,
      trusteeKeys: new Map(),
      t: 0,
      voters: new Map(),
      sealedCount: 0,
      opened: null,
      closed: null,
      ballotEntries: 0,
      auditedEntries: 0,
      sums: null,
      tally: null,
      resultCounts: null,
    };
    this.ballots = new Ballots(this.st);
    this.ceremony = new Ceremony(this.st);
    this.lists = new CredentialLists(this.st);
    this.reconciliation = new Reconciliation(this.st);
    this.tally = new Tally(this.st);
    this.partials = new Partials(this.st);
    this.results = new Results(this.st, this.partials);
    this.complaints = new Complaints(this.st);
    this.precincts = new PrecinctLists(this.st);
    this.observers = new Observers(this.st);
    this.checks.checked('checkpoint.signature');
    try {
      verifyCheckpointNote(head.checkpoint, key);
      this.finalOk = true;
    } catch (e) {
      this.checks.fail('checkpoint.signature', null, why(e));
    }
    if (this.finalOk) this.cosigners('checkpoint.txt', head.checkpoint, true);
    for (const f of head.checkpointFiles) this.checkpointFile(f.name, f.text);
  }

  /** §X1, §X3: a `checkpoints/` file. */
  private checkpointFile(name: string, text: string): void {
    const { checks } = this;
    checks.checked('checkpoint.consistency');
    try {
      const size = checkpointFileSize(name);
      if (size === null) fail('bad_name', `checkpoints/${name} is not named <decimal size>.txt`);
      const cp = readEarlier(text, this.st.boardKey, `checkpoints/${name}`, null);
      this.cosigners(`checkpoints/${name}`, text, false);
      if (cp.size !== size) fail('wrong_size', `checkpoints/${name} states size ${cp.size}`);
      this.expect(cp);
    } catch (e) {
      checks.fail('checkpoint.consistency', null, why(e));
    }
  }

  /** §X3.1: trusted observers' lines; on the final checkpoint every trusted key must have one. */
  private cosigners(what: string, note: string, required: boolean): void {
    for (const k of this.trusted) {
      const got = cosignedBy(note, k);
      if (got === 'missing' && !required) continue;
      this.checks.checked('checkpoint.cosigners');
      if (got !== 'valid') this.checks.fail('checkpoint.cosigners', null, `${what}: ${got === 'missing' ? 'no cosignature' : 'a cosignature that does not verify'} by trusted observer ${k.name}`);
    }
  }

  private expect(cp: EarlierCheckpoint): void {
    if (cp.size <= this.st.tree.size) {
      if (!equalBytes(this.st.tree.rootAt(cp.size), cp.root))
        this.checks.fail('checkpoint.consistency', cp.entry, `${cp.what}: the root of the first ${cp.size} entries differs (history rewritten)`);
      return;
    }
    const list = this.earlier.get(cp.size) ?? [];
    list.push(cp);
    this.earlier.set(cp.size, list);
  }

  /** Entries read so far and ballots whose proofs were checked (for progress). */
  progress(): { entries: number; ballots: number } {
    return { entries: this.st.tree.size, ballots: this.ballots.verified };
  }

  entry(bytes: Uint8Array): void {
    const { st, checks } = this;
    const index = st.tree.size;
    st.tree.append(bytes);
    const due = this.earlier.get(st.tree.size);
    if (due) {
      this.earlier.delete(st.tree.size);
      const root = st.tree.root();
      for (const cp of due)
        if (!equalBytes(root, cp.root)) checks.fail('checkpoint.consistency', cp.entry, `${cp.what}: the root of the first ${cp.size} entries differs (history rewritten)`);
    }
    checks.checked('entries.envelope');
    let e: Entry;
    try {
      e = readEnvelope(index, bytes);
    } catch (err) {
      checks.fail('entries.envelope', index, why(err));
      return;
    }
    if (e.kind !== KIND.ballot && e.kind !== KIND.auditedBallot) this.ballots.settle();
    const phase = phaseOf(e);
    if (phase !== null) {
      checks.checked('board.order');
      if (phase < this.phase) {
        checks.fail('board.order', index, `an entry of phase ${phase} after phase ${this.phase} (record.md §R1.4)`);
        return;
      }
      this.phase = phase;
    }
    this.dispatch(e);
  }

  private dispatch(e: Entry): void {
    const { st } = this;
    switch (e.kind) {
      case KIND.manifest:
        return this.manifestChunk(e);
      case KIND.ceremony:
        return this.ceremony.entry(e);
      case KIND.credentialList:
        return this.lists.entry(e);
      case KIND.votingOpened:
        return votingOpened(st, e, () => this.lists.opened());
      case KIND.ballot:
      case KIND.auditedBallot:
        return this.ballots.entry(e);
      case KIND.votingClosed:
        return votingClosed(st, e);
      case KIND.reconciliation:
        return this.reconciliation.entry(e);
      case KIND.partialDecryption:
        return this.partials.entry(e);
      case KIND.results:
        return this.results.entry(e);
      case KIND.complaint:
        return this.complaints.entry(e, false);
      case KIND.complaintAnswer:
        return this.complaints.entry(e, true);
      case KIND.cosignedCheckpoint:
        return this.cosigned(e);
      case KIND.adminAction:
        if (e.payload[1] === SUBTAG.tally) return this.tally.entry(e);
        if (e.payload[1] === SUBTAG.precinctList) return this.precincts.entry(e);
        return this.observers.entry(e);
    }
  }

  /** §R2.1 chunks; the manifest is read when its last chunk arrives. */
  private manifestChunk(e: Entry): void {
    const { st, checks } = this;
    st.firstManifestEntry ??= e.index;
    try {
      if (this.manifestDone) fail('inconsistent_chunks', 'a manifest chunk after the manifest was complete');
      const r = new Reader(e.payload);
      const v = r.u8();
      if (v !== 1) fail('unknown_version', `manifest version ${v}`);
      const index = r.u16();
      const count = r.u16();
      if (index >= count) fail('out_of_bounds', `chunk ${index} of ${count}`);
      if (r.remaining() < 1) fail('truncated', 'a manifest chunk holds at least one byte');
      this.manifestSeq.accept({ index, count });
      this.manifestChunks.push(e.payload.subarray(5));
      if (this.manifestSeq.complete) {
        this.manifestDone = true;
        st.manifest = readManifest(concat(...this.manifestChunks));
        this.manifestChunks = [];
      }
    } catch (err) {
      if (this.manifestSeq.complete) this.manifestDone = true;
      checks.fail('manifest', e.index, why(err));
    }
  }

  /** board.md §B5.3. */
  private cosigned(e: Entry): void {
    const { checks } = this;
    checks.checked('checkpoint.consistency');
    try {
      const cp = readEarlier(noteText(e.payload), this.st.boardKey, `cosigned_checkpoint at entry ${e.index}`, e.index);
      if (cp.size > e.index) fail('bad_checkpoint', `size ${cp.size} is beyond the entry's own index ${e.index}`);
      this.expect(cp);
    } catch (err) {
      checks.fail('checkpoint.consistency', e.index, why(err));
    }
  }

  finish(): Report {
    const { st, checks } = this;
    this.ballots.settle();
    checks.checked('manifest');
    if (!this.manifestDone) checks.fail('manifest', null, this.manifestSeq.started ? 'the manifest is incomplete' : 'no manifest on the board');
    this.ceremony.finish();
    markersFinish(st);
    this.tally.finish();
    this.results.finish();
    this.complaints.finish();
    this.precincts.finish();
    this.observers.finalNote(this.head.checkpoint, this.finalOk);
    for (const list of this.earlier.values())
      for (const cp of list) checks.fail('checkpoint.consistency', cp.entry, `${cp.what}: size ${cp.size} is beyond the final tree (${st.tree.size})`);
    checks.checked('checkpoint.root');
    try {
      const cp = parseCheckpoint(parseNote(this.head.checkpoint).text);
      if (cp.size !== BigInt(st.tree.size)) fail('wrong_size', `the final checkpoint states ${cp.size} entries, entries.bin has ${st.tree.size}`);
      if (!equalBytes(cp.root, st.tree.root())) fail('wrong_root', 'the root of entries.bin is not the final checkpoint’s');
    } catch (err) {
      checks.fail('checkpoint.root', null, why(err));
    }
    return checks.report(st.tree.size, this.ballots.verified);
  }
}

/** §X2: splits `entries.bin`; throws `truncated` (the record is unusable) on a partial entry. */
export function* splitEntries(bin: Uint8Array): Generator<Uint8Array> {
  let o = 0;
  while (o < bin.length) {
    if (o + 4 > bin.length) fail('truncated', 'entries.bin ends inside a length prefix');
    const len = ((bin[o] << 24) >>> 0) + (bin[o + 1] << 16) + (bin[o + 2] << 8) + bin[o + 3];
    if (len > 65535) fail('out_of_bounds', `an entry of ${len} bytes`);
    if (o + 4 + len > bin.length) fail('truncated', 'entries.bin ends inside an entry');
    yield bin.subarray(o + 4, o + 4 + len);
    o += 4 + len;
  }
}

/** Verifies a whole record held in memory (the Node test and the page's file input). */
export function verifyRecord(head: RecordHead, entriesBin: Uint8Array): Report {
  let v: Verifier;
  try {
    v = new Verifier(head);
  } catch (e) {
    return unusableReport(why(e));
  }
  try {
    for (const e of splitEntries(entriesBin)) v.entry(e);
  } catch (e) {
    return unusableReport(`entries.bin: ${why(e)}`);
  }
  return v.finish();
}
