// board.md §B5.1–§B5.2 envelopes and record.md §R1.1 admin_action sub-tags:
// an entry that fails here takes part in no other check.
import { fail } from '../crypto/bytes.js';

export const KIND = {
  manifest: 0x0100,
  ceremony: 0x0101,
  credentialList: 0x0102,
  votingOpened: 0x0200,
  ballot: 0x0201,
  auditedBallot: 0x0202,
  votingClosed: 0x0203,
  reconciliation: 0x0300,
  partialDecryption: 0x0301,
  results: 0x0302,
  adminAction: 0x0400,
  complaint: 0x0401,
  complaintAnswer: 0x0402,
  cosignedCheckpoint: 0x0403,
} as const;
const ASSIGNED = new Set<number>(Object.values(KIND));

export const SUBTAG = { tally: 1, precinctList: 2, observers: 4 } as const;
const ASSIGNED_SUBTAGS = new Set<number>(Object.values(SUBTAG));

export interface Entry {
  index: number;
  kind: number;
  payload: Uint8Array;
  bytes: Uint8Array;
}

/** §B5.1 in its order of checks, then §R1.1 for admin_action. */
export function readEnvelope(index: number, bytes: Uint8Array): Entry {
  if (bytes.length < 7) fail('truncated', 'an entry has at least 7 bytes');
  if (bytes[0] !== 1) fail('unknown_version', `entry version ${bytes[0]}`);
  const kind = (bytes[1] << 8) | bytes[2];
  if (!ASSIGNED.has(kind)) fail('unknown_tag', `unassigned entry kind 0x${kind.toString(16).padStart(4, '0')}`);
  const len = bytes[3] * 2 ** 24 + (bytes[4] << 16) + (bytes[5] << 8) + bytes[6];
  if (len > 65528) fail('out_of_bounds', 'payload longer than 65 528 bytes');
  if (bytes.length < 7 + len) fail('truncated', 'payload shorter than its length');
  if (bytes.length > 7 + len) fail('trailing_bytes', 'bytes after the payload');
  const payload = bytes.subarray(7);
  if (kind === KIND.adminAction) {
    if (payload.length < 2) fail('truncated', 'an admin_action payload starts with a version and a sub-tag');
    if (payload[0] !== 1) fail('unknown_version', `admin_action version ${payload[0]}`);
    if (!ASSIGNED_SUBTAGS.has(payload[1])) fail('unknown_tag', `unassigned admin_action sub-tag 0x${payload[1].toString(16).padStart(2, '0')}`);
  }
  return { index, kind, payload, bytes };
}
