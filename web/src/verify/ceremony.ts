// record.md §R3: the key ceremony entries; the ceremony verification of
// crypto.md §8.6–§8.7 on the entries that decode, and the joint key.
import { Reader, fail } from '../crypto/bytes.js';
import { Complaint, Round1Message, Round2Message, decodeComplaint, decodeRound1, decodeRound2, verifyCeremony } from '../crypto/dkg.js';
import { fingerprintElection, readElement } from '../crypto/group.js';
import { Entry } from './envelope.js';
import { why } from './report.js';
import { State } from './state.js';

const CHECK = 'key_ceremony';

export class Ceremony {
  private round1: Round1Message[] = [];
  private round2: Round2Message[] = [];
  private complaints: Complaint[] = [];
  private jointKeyEntry: number | null = null;

  constructor(private readonly st: State) {}

  entry(e: Entry): void {
    const { checks } = this.st;
    let tag: number;
    let body: Uint8Array;
    try {
      const r = new Reader(e.payload);
      const v = r.u8();
      if (v !== 1) fail('unknown_version', `ceremony entry version ${v}`);
      tag = r.u8();
      body = e.payload.subarray(2);
    } catch (err) {
      checks.fail(CHECK, e.index, why(err));
      return;
    }
    if (this.jointKeyEntry !== null) {
      checks.fail(CHECK, e.index, 'a ceremony entry after the joint key');
      return;
    }
    try {
      if (tag === 1) this.round1.push(decodeRound1(body));
      else if (tag === 2) this.round2.push(decodeRound2(body));
      else if (tag === 3) this.complaints.push(decodeComplaint(body));
      else if (tag === 4) this.jointKey(e.index, body);
      else fail('unknown_tag', `ceremony tag ${tag}`);
    } catch (err) {
      checks.fail(CHECK, e.index, `tag ${tag}: ${why(err)}`);
    }
  }

  private jointKey(index: number, body: Uint8Array): void {
    const { checks, manifest } = this.st;
    this.jointKeyEntry = index;
    checks.checked(CHECK);
    const r = new Reader(body);
    const K = readElement(r, false);
    r.end();
    if (!manifest) fail('no_manifest', 'the joint key comes without a valid manifest');
    this.st.key = K;
    this.st.fingerprint = fingerprintElection(manifest.hash, K);
    this.st.t = manifest.t;
    const out = verifyCeremony(
      { params: { n: manifest.n, t: manifest.t }, manifestHash: manifest.hash, round1: this.round1, round2: this.round2, complaints: this.complaints },
      K,
    );
    this.st.trusteeKeys = out.verificationKeys;
    if (out.faults.length) checks.note(CHECK, `ceremony faults: ${out.faults.map((f) => `trustee ${f.trustee} ${f.fault}`).join(', ')}`);
    checks.note(CHECK, `qualified trustees: ${out.qualified.join(', ')}`);
  }

  finish(): void {
    if (this.jointKeyEntry === null) this.st.checks.fail(CHECK, null, 'no joint key (tag-4 entry) on the board');
  }
}
