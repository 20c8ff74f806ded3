// The trustee's steps in the browser (spec/trustee.md §T1 `init`, `deal`,
// `receive`, `finish`, `decrypt`; crypto.md §8–§9), on the same server
// endpoints and with the same board messages as `urna trustee --server`
// (§T5, api.md §A5). Secrets live only in the sealed store (keystore.ts);
// every step seals the new state before it posts anything (§T1: the store
// is replaced before the output is written).
import * as U from '../crypto/index.js';
import { call } from './api.js';
import { Secrets } from './keystore.js';
import { CheckedTally } from './tallycheck.js';

export interface CeremonyJson {
  phase: string;
  n: number;
  t: number;
  manifest_hash: string;
  messages: { index: number; payload: string }[];
  joint_key: string | null;
  fingerprint: string | null;
}

export interface Board {
  round1: U.Round1Message[];
  round2: U.Round2Message[];
  complaints: U.Complaint[];
  /** Payload hex already on the board, to tell a posted message from a lost one. */
  posted: Set<string>;
}

export const getCeremony = () => call<CeremonyJson>('/election/ceremony');

/** §R3 payload: version 1 ‖ tag ‖ body. */
export const ceremonyPayload = (tag: number, body: Uint8Array): string => U.toHex(U.concat(U.u8(1), U.u8(tag), body));

/** The board's ceremony messages that decode strictly (§R3: the others are no trustee's message). */
export function readBoard(c: CeremonyJson): Board {
  const b: Board = { round1: [], round2: [], complaints: [], posted: new Set() };
  for (const m of c.messages) {
    b.posted.add(m.payload);
    try {
      const p = U.fromHex(m.payload);
      if (p[0] !== 1) continue;
      const body = p.subarray(2);
      if (p[1] === 1) b.round1.push(U.decodeRound1(body));
      else if (p[1] === 2) b.round2.push(U.decodeRound2(body));
      else if (p[1] === 3) b.complaints.push(U.decodeComplaint(body));
    } catch {
      // Not part of the ceremony record (record.md §R3); the verifier reports it.
    }
  }
  return b;
}

const scalar = (hex: string): bigint => U.decodeScalar(U.fromHex(hex, 32));
const scalarHex = (s: bigint): string => U.toHex(U.scalarToBytes(s));

/** `init`: x_i and a_{i,0..t−1} drawn here, the round 1 message (§8.2). */
export function init(M: Uint8Array, n: number, t: number, i: number, token: string): Secrets {
  const x = U.randomScalar();
  const a = Array.from({ length: t }, () => U.randomScalar());
  const r1 = U.makeRound1(U.fingerprintCeremony(M), { n, t }, i, x, a);
  return { token, x: scalarHex(x), a: a.map(scalarHex), round1: ceremonyPayload(1, U.encodeRound1(r1)) };
}

/** `deal`: §8.2's public check, then f_i(j) sealed to every other participant (§8.3); the coefficients are dropped. */
export function deal(M: Uint8Array, n: number, t: number, i: number, s: Secrets, board: Board): Secrets {
  if (s.round2) return s;
  const r1 = U.checkRound1({ n, t }, M, board.round1);
  const own = r1.accepted.get(i);
  if (!own || ceremonyPayload(1, U.encodeRound1(own)) !== s.round1) U.fail('not_a_participant', 'this trustee’s round 1 message is not accepted on the board');
  const a = (s.a ?? []).map(scalar);
  const recipients = [...r1.accepted.values()].filter((m) => m.trustee !== i).map((m) => ({ j: m.trustee, shareKey: m.shareKey, e: U.randomScalar() }));
  const r2 = U.makeRound2(r1.fingerprint, i, a, recipients);
  const sigma = U.polyEval(a, i);
  return { token: s.token, x: s.x, sigma: scalarHex(sigma), round1: s.round1, round2: ceremonyPayload(2, U.encodeRound2(r2)) };
}

/** `receive`: opens the shares sealed to this trustee and checks them against the dealers' commitments (§8.4); a complaint for each bad one (§8.5). */
export function receive(M: Uint8Array, n: number, t: number, i: number, s: Secrets, board: Board): Secrets {
  if (s.complaints) return s;
  const r1 = U.checkRound1({ n, t }, M, board.round1);
  const { valid } = U.indexRound2(r1, board.round2);
  const x = scalar(s.x ?? '');
  const complaints: string[] = [];
  for (const [dealer, m] of valid) {
    if (dealer === i) continue;
    const sealed = m.shares.find((sh) => sh.recipient === i);
    if (!sealed) continue;
    let good = false;
    try {
      const sigma = U.openShareWithSecret(r1.fingerprint, sealed, x);
      good = U.mul(U.G, sigma).equals(U.feldman(r1.accepted.get(dealer)!.coefficients.map((c) => c.commitment), i));
    } catch {
      good = false;
    }
    if (!good) complaints.push(ceremonyPayload(3, U.encodeComplaint(U.makeComplaint(r1.fingerprint, dealer, i, x, sealed.ephemeral))));
  }
  return { ...s, complaints };
}

/** `finish`: the whole ceremony from the board (§8.6–§8.7), s_j, and the server's joint key must be the one computed. */
export function finish(M: Uint8Array, n: number, t: number, i: number, s: Secrets, board: Board, published: string): Secrets {
  const K = U.decodeElement(U.fromHex(published, 32), false);
  const out = U.verifyCeremony({ params: { n, t }, manifestHash: M, round1: board.round1, round2: board.round2, complaints: board.complaints }, K);
  if (!out.qualified.includes(i)) U.fail('not_qualified', `trustee ${i} is not in the qualified set`);
  const share = U.secretShare(out, board.round2, i, scalar(s.x ?? ''), scalar(s.sigma ?? ''));
  return {
    token: s.token,
    s: scalarHex(share),
    joint_key: U.toHex(U.enc(out.jointKey)),
    verification_key: U.toHex(U.enc(out.verificationKeys.get(i)!)),
    qualified: out.qualified,
  };
}

/** §R11.2 label of option o of record (d, c). */
export const label = (d: string, c: string, o: number): Uint8Array => {
  const [db, cb] = [U.utf8(d), U.utf8(c)];
  return U.concat(U.u8(db.length), db, U.u8(cb.length), cb, U.u16(o));
};

/** 131-byte partial decryptions, packed greedily into §R11.1 chunks of at most 65,528 bytes. */
export function partialChunks(j: number, parts: Uint8Array[]): string[] {
  const per = Math.floor((65528 - 15) / 131);
  const count = Math.max(1, Math.ceil(parts.length / per));
  return Array.from({ length: count }, (_, k) => {
    const items = parts.slice(k * per, (k + 1) * per);
    return U.toHex(U.concat(U.u8(1), U.u16(j), U.u32(k), U.u32(count), U.u32(items.length), ...items));
  });
}

/** `decrypt` of a tally checked by §T1.1: one partial decryption per tally ciphertext, each verified against K_j before it leaves. */
export async function decrypt(j: number, s: Secrets, checked: CheckedTally, progress: (done: number, total: number) => void): Promise<string[]> {
  const share = scalar(s.s ?? '');
  const Kj = U.decodeElement(U.fromHex(s.verification_key ?? '', 32), false);
  const total = checked.records.reduce((n, r) => n + r.sums.length, 0);
  const parts: Uint8Array[] = [];
  for (const r of checked.records)
    for (let o = 0; o < r.sums.length; o++) {
      const l = label(r.district, r.contest, o);
      const p = U.partialDecrypt(checked.fingerprint, j, share, r.sums[o], l);
      U.verifyPartial(checked.fingerprint, r.sums[o], l, Kj, p);
      parts.push(U.encodePartial(p));
      progress(parts.length, total);
      // Let the page paint the progress between ciphertexts.
      if (parts.length % 4 === 0) await new Promise((res) => setTimeout(res, 0));
    }
  return partialChunks(j, parts);
}

const auth = (s: Secrets) => ({ authorization: `Bearer ${s.token}` });

export const postCeremony = (j: number, s: Secrets, payload: string) =>
  call(`/election/trustees/${j}/ceremony`, { method: 'POST', headers: auth(s), body: JSON.stringify({ message: payload }) });
export const postPartials = (j: number, s: Secrets, payloads: string[]) =>
  call(`/election/trustees/${j}/partials`, { method: 'POST', headers: auth(s), body: JSON.stringify({ payloads }) });
