// crypto.md §6.1 and §7.4: ballots' group equations checked in one batch.
// Every equation gets an independent 128-bit weight drawn after the proofs
// are fixed; terms on the same point (G, H, K, a ciphertext shared by a
// proof's branches) are merged, and one Pippenger multiscalar
// multiplication decides the batch. A failed batch names its bad ballots by
// checking each alone (crypto/ballot.ts `verifyBallot`).
import { pippenger } from '@noble/curves/abstract/curve.js';
import { Ballot, ContestShape, Election, SUM_PROOF, isExact, optionProofCount, proofContext } from '../crypto/ballot.js';
import { fail } from '../crypto/bytes.js';
import { Ciphertext, sumCiphertexts } from '../crypto/elgamal.js';
import { G, H, L, Point } from '../crypto/group.js';
import { DleqProof, RangeProof, dleqChallenge, rangeChallenge, signatureChallenge } from '../crypto/proofs.js';

class Weights {
  private buf = new Uint8Array(0);
  private view = new DataView(this.buf.buffer);
  private pos = 0;
  next(): bigint {
    if (this.pos + 16 > this.buf.length) {
      this.buf = new Uint8Array(16 * 1024);
      crypto.getRandomValues(this.buf);
      this.view = new DataView(this.buf.buffer);
      this.pos = 0;
    }
    const w = (this.view.getBigUint64(this.pos) << 64n) | this.view.getBigUint64(this.pos + 8);
    this.pos += 16;
    return w;
  }
}

/** Σ_e w_e·(Σ s·P) as a map from point object to scalar. */
export class Batch {
  private readonly terms = new Map<Point, bigint>();
  private readonly w = new Weights();
  items = 0;

  private add(p: Point, s: bigint): void {
    this.terms.set(p, ((this.terms.get(p) ?? 0n) + s) % L);
  }

  private range(F: Uint8Array, ctx: Uint8Array, K: Point, summands: Ciphertext[], lo: number, hi: number, proof: RangeProof): void {
    if (proof.length !== hi - lo + 1) fail('shape_mismatch', `expected ${hi - lo + 1} branches`);
    const { alpha, beta } = summands.length === 1 ? summands[0] : sumCiphertexts(summands);
    const c = rangeChallenge(F, ctx, K, summands, lo, hi, proof);
    let sum = 0n;
    for (const b of proof) sum += b.c;
    if (sum % L !== c) fail('invalid_proof', 'range proof (challenge sum) does not verify');
    proof.forEach((br, j) => {
      // A_j + c_j·α − z_j·G = 0 ; B_j + c_j·β − c_j·(lo+j)·H − z_j·K = 0
      const w1 = this.w.next();
      const w2 = this.w.next();
      this.add(br.a, w1);
      this.add(alpha, w1 * br.c);
      this.add(G, -w1 * br.z);
      this.add(br.b, w2);
      this.add(beta, w2 * br.c);
      this.add(H, -w2 * ((br.c * BigInt(lo + j)) % L));
      this.add(K, -w2 * br.z);
    });
  }

  /**
   * §7.4 steps 2–4 for one decoded ballot: the non-group checks now (they
   * throw), its equations into the batch.
   */
  ballot(b: Ballot, shapes: ContestShape[], e: Election): void {
    if (b.contests.length !== shapes.length) fail('shape_mismatch', 'the ballot has another number of contests');
    b.contests.forEach((c, ci) => {
      const s = shapes[ci];
      if (c.shape.options !== s.options || c.shape.option_max !== s.option_max || c.shape.min !== s.min || c.shape.max !== s.max)
        fail('shape_mismatch', `contest ${ci} has another shape`);
      if (c.ciphertexts.length !== s.options || c.optionProofs.length !== optionProofCount(s) || (c.sumProof === null) !== isExact(s))
        fail('shape_mismatch', `contest ${ci} has another number of ciphertexts or proofs`);
      c.optionProofs.forEach((p, o) => this.range(e.fingerprint, proofContext(b.credential, ci, o), e.key, [c.ciphertexts[o]], 0, s.option_max, p));
      if (c.sumProof) this.range(e.fingerprint, proofContext(b.credential, ci, SUM_PROOF), e.key, c.ciphertexts, s.min, s.max, c.sumProof);
    });
    if (b.credential.is0()) fail('identity_element', 'the credential is the identity');
    const ch = signatureChallenge(e.fingerprint, b.credential, b.signature.commitment, b.signed);
    const w = this.w.next();
    this.add(b.signature.commitment, w);
    this.add(b.credential, w * ch);
    this.add(G, -w * b.signature.response);
    this.items++;
  }

  /** §6.3 DLEQ (a partial decryption, §9.3): A + c·X − z·G = 0 and B + c·Z − z·Y = 0. */
  dleq(F: Uint8Array, ctx: Uint8Array, Y: Point, X: Point, Z: Point, p: DleqProof): void {
    const c = dleqChallenge(F, ctx, Y, X, Z, p.commitmentG, p.commitmentY);
    const w1 = this.w.next();
    const w2 = this.w.next();
    this.add(p.commitmentG, w1);
    this.add(X, w1 * c);
    this.add(G, -w1 * p.response);
    this.add(p.commitmentY, w2);
    this.add(Z, w2 * c);
    this.add(Y, -w2 * p.response);
    this.items++;
  }

  /** Whether every equation added holds (up to 2^-128). */
  holds(): boolean {
    if (this.terms.size === 0) return true;
    const points = [...this.terms.keys()];
    const scalars = [...this.terms.values()].map((s) => ((s % L) + L) % L);
    return pippenger(Point, points, scalars).is0();
  }
}
