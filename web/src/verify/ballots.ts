// record.md §R6 (ballots: window, replay, decoding, credential, header,
// proofs, re-vote policy) and §R7 (audited ballots), with the check that
// owns each fault per spec/export.md §X4.1. Proofs of cast ballots are
// checked in batches (batch.ts); a batch is settled, in board order, before
// any later entry that depends on which ballots are valid.
import { sha256 } from '@noble/hashes/sha2.js';
import { Ballot, ContestShape, Election, decodeAuditPayload, decodeBallot, verifyAudit, verifyBallot } from '../crypto/ballot.js';
import { Reader, equalBytes, fail, utf8 } from '../crypto/bytes.js';
import { enc } from '../crypto/group.js';
import { Batch } from './batch.js';
import { Entry, KIND } from './envelope.js';
import { keyOf, readId } from './read.js';
import { countIn, countOut, keepCiphertexts } from './tally.js';
import { why } from './report.js';
import { State, Voter } from './state.js';

/** Ballots whose proofs are checked together (crypto.md §6.1: chunks of 256, as urna verify; 1,024 gained under 10 % in Node). */
export const BATCH_SIZE = 256;

interface Pending {
  index: number;
  ballot: Ballot;
  voter: Voter;
  shapes: ContestShape[];
}

export class Ballots {
  private readonly codes = new Set<string>();
  private pending: Pending[] = [];
  private batch = new Batch();
  private electionHash: Uint8Array | null = null;
  /** Ballots whose proofs were checked (for progress). */
  verified = 0;

  constructor(private readonly st: State) {}

  private election(): Election | null {
    return this.st.key && this.st.fingerprint ? { key: this.st.key, fingerprint: this.st.fingerprint } : null;
  }

  entry(e: Entry): void {
    const { st } = this;
    const audited = e.kind === KIND.auditedBallot;
    st.checks.checked('ballot.window');
    if (st.opened === null || st.closed !== null) {
      st.checks.fail('ballot.window', e.index, st.opened === null ? 'before voting_opened' : 'after voting_closed');
      return;
    }
    if (audited) st.auditedEntries++;
    else st.ballotEntries++;
    if (audited) this.audited(e);
    else this.cast(e);
  }

  /** The tracking code check (§R6.3); registers the code. */
  private replay(index: number, bytes: Uint8Array): boolean {
    const code = keyOf(sha256(bytes));
    this.st.checks.checked('ballot.replay');
    if (this.codes.has(code)) {
      this.st.checks.fail('ballot.replay', index, 'this tracking code is already on the board');
      return false;
    }
    this.codes.add(code);
    return true;
  }

  /** §R6.1 credential and header; the voter when both pass. */
  private credentialAndHeader(index: number, b: Ballot): Voter | null {
    const { st } = this;
    st.checks.checked('ballot.credential');
    const voter = st.voters.get(keyOf(enc(b.credential)));
    if (!voter) {
      st.checks.fail('ballot.credential', index, 'unknown_credential: the credential is in no sealed list');
      return null;
    }
    st.checks.checked('ballot.header');
    try {
      const m = st.manifest;
      if (!m) fail('no_manifest', 'no valid manifest');
      this.electionHash ??= sha256(utf8(m.id));
      const r = new Reader(b.header);
      const v = r.u8();
      if (v !== 1) fail('unknown_version', `header version ${v}`);
      if (!equalBytes(r.bytes(32), this.electionHash)) fail('wrong_election', 'the header names another election');
      const district = readId(r);
      r.end();
      if (district !== m.districts[voter.district].id)
        fail('wrong_ballot_style', `header district "${district}", the credential is sealed in "${m.districts[voter.district].id}"`);
    } catch (err) {
      st.checks.fail('ballot.header', index, why(err));
      return null;
    }
    return voter;
  }

  private shapes(voter: Voter): ContestShape[] {
    const m = this.st.manifest!;
    return m.styles[voter.district].map((ci) => m.contests[ci].shape);
  }

  private cast(e: Entry): void {
    const { st } = this;
    if (!this.replay(e.index, e.payload)) return;
    st.checks.checked('ballot.decode');
    let b: Ballot;
    try {
      b = decodeBallot(e.payload);
    } catch (err) {
      st.checks.fail('ballot.decode', e.index, why(err));
      return;
    }
    const voter = this.credentialAndHeader(e.index, b);
    if (!voter) return;
    st.checks.checked('ballot.proofs');
    const el = this.election();
    if (!el) {
      st.checks.fail('ballot.proofs', e.index, 'no joint key to verify against');
      return;
    }
    const shapes = this.shapes(voter);
    const p = { index: e.index, ballot: b, voter, shapes };
    try {
      this.batch.ballot(b, shapes, el);
    } catch (err) {
      // A non-group failure is final; settle earlier ballots first to keep board order.
      this.settle();
      this.verified++;
      st.checks.fail('ballot.proofs', e.index, why(err));
      return;
    }
    this.pending.push(p);
    if (this.pending.length >= BATCH_SIZE) this.settle();
  }

  /** Decides the pending batch and applies its valid ballots in board order. */
  settle(): void {
    if (this.pending.length === 0) return;
    const pending = this.pending;
    const ok = this.batch.holds();
    this.pending = [];
    this.batch = new Batch();
    const el = this.election()!;
    for (const p of pending) {
      this.verified++;
      if (!ok) {
        try {
          verifyBallot(p.ballot, p.shapes, el);
        } catch (err) {
          this.st.checks.fail('ballot.proofs', p.index, why(err));
          continue;
        }
      }
      this.valid(p);
    }
  }

  /** §R6.3: a valid ballot takes part in the re-vote policy. */
  private valid(p: Pending): void {
    const { st } = this;
    st.checks.checked('revote');
    const v = p.voter;
    v.voted = true;
    if (st.manifest!.revote === 'forbidden' && v.counted) {
      st.checks.fail('revote', p.index, `a second valid ballot of this credential (the first is entry ${v.countedAt}); not counted`);
      return;
    }
    // last-counts: this one supersedes the one counted so far; an annulled credential (§R9) counts none.
    if (v.counted && !v.annulled) countOut(st, v.district, v.counted);
    const cts = p.ballot.contests.map((c) => c.ciphertexts);
    if (!v.annulled) countIn(st, v.district, cts);
    v.counted = keepCiphertexts(cts, p.shapes);
    v.countedAt = p.index;
  }

  private audited(e: Entry): void {
    const { st } = this;
    let inner: Uint8Array;
    try {
      const r = new Reader(e.payload);
      const v = r.u8();
      if (v !== 1) fail('unknown_version', `audited ballot version ${v}`);
      inner = r.bytes(r.u32());
    } catch (err) {
      st.checks.checked('audited_ballot');
      st.checks.fail('audited_ballot', e.index, why(err));
      return;
    }
    if (!this.replay(e.index, inner)) return;
    st.checks.checked('audited_ballot');
    let a: ReturnType<typeof decodeAuditPayload>;
    try {
      a = decodeAuditPayload(e.payload);
    } catch (err) {
      st.checks.fail('audited_ballot', e.index, why(err));
      return;
    }
    const voter = this.credentialAndHeader(e.index, a.ballot);
    if (!voter) return;
    try {
      const el = this.election();
      if (!el) fail('no_key', 'no joint key to verify against');
      verifyBallot(a.ballot, this.shapes(voter), el);
      verifyAudit(a.ballot, el.key, a.selections, a.nonces);
      this.verified++;
    } catch (err) {
      st.checks.fail('audited_ballot', e.index, why(err));
    }
  }
}
