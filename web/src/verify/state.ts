// What the verifier knows so far while it streams the board: the pieces one
// section establishes and later sections read.
import { Ciphertext } from '../crypto/elgamal.js';
import { Point } from '../crypto/group.js';
import { VerifierKey } from '../crypto/board.js';
import { Checks } from './report.js';
import { Manifest } from './manifest.js';
import { Tree } from './tree.js';

/** A sealed credential and what the ballots did with it. */
export interface Voter {
  district: number;
  /** It has at least one valid ballot (§R6.3). */
  voted: boolean;
  /**
   * The sent ciphertexts (α ‖ β per sent option, contests in style order) of
   * the ballot that counts now, kept as bytes so that memory stays small;
   * null if none. Its ciphertexts are in the running sums unless annulled.
   */
  counted: Uint8Array | null;
  countedAt: number;
  annulled: boolean;
}

export interface TallyRecord {
  district: string;
  contest: string;
  ballots: bigint;
  sums: Ciphertext[];
  bytes: Uint8Array;
  entry: number;
}

export interface State {
  checks: Checks;
  tree: Tree;
  boardKey: VerifierKey;
  /** The first `election_manifest` entry's index (§R13: complaints after it). */
  firstManifestEntry: number | null;
  manifest: Manifest | null;
  /** The joint key K and F_election (§R3). */
  key: Point | null;
  fingerprint: Uint8Array | null;
  /** Qualified trustees' verification keys K_j (§8.6). */
  trusteeKeys: Map<number, Point>;
  t: number;
  /** Sealed credentials by their 32-byte encoding (as a binary string). */
  voters: Map<string, Voter>;
  sealedCount: number;
  opened: number | null;
  closed: number | null;
  ballotEntries: number;
  auditedEntries: number;
  /** Running sums of the counted ballots per district: ballots, and per style contest per option (§R10). */
  sums: { ballots: bigint[]; cts: Ciphertext[][][] } | null;
  /** The published tally, when complete (§R10). */
  tally: TallyRecord[] | null;
  /** The district counts of the published results, by tally position (§R12). */
  resultCounts: (bigint[] | null)[] | null;
}
