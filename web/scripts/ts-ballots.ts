// Writes ballots made by the TypeScript client, with their audit secrets,
// for the Rust cross-check crates/urna-crypto/tests/ts_client_ballots.rs.
// Usage: node test-dist/ts-ballots.mjs OUT.json
import { writeFileSync } from 'node:fs';
import * as U from '../src/crypto/index.js';

const secret = U.randomScalar();
const K = U.mul(U.G, secret);
const manifestHash = U.randomBytes(32);
const F = U.fingerprintElection(manifestHash, K);
const e: U.Election = { key: K, fingerprint: F };
const header = U.ballotHeader('ts-client-check', 'd1');

const styles: { shapes: U.ContestShape[]; selections: number[][] }[] = [
  { shapes: [{ options: 2, option_max: 1, min: 1, max: 1 }], selections: [[0, 1]] },
  { shapes: [{ options: 10, option_max: 1, min: 0, max: 3 }], selections: [[1, 0, 0, 1, 0, 0, 0, 0, 0, 1]] },
  {
    shapes: [
      { options: 3, option_max: 3, min: 2, max: 5 },
      { options: 1, option_max: 1, min: 0, max: 1 },
      { options: 20, option_max: 1, min: 1, max: 1 },
    ],
    selections: [[3, 0, 1], [0], Array.from({ length: 20 }, (_, i) => (i === 17 ? 1 : 0))],
  },
  {
    // Exact contests (§7.1): nothing sent; derived with its proof; derived with its proof, n = 3.
    shapes: [
      { options: 1, option_max: 1, min: 1, max: 1 },
      { options: 2, option_max: 2, min: 1, max: 1 },
      { options: 3, option_max: 1, min: 2, max: 2 },
    ],
    selections: [[1], [1, 0], [1, 0, 1]],
  },
];

const ballots = styles.map(({ shapes, selections }) => {
  const x = U.randomScalar();
  const b = U.encryptBallot(e, x, header, shapes, selections);
  return {
    shapes,
    credential: U.toHex(U.mul(U.G, x).toBytes()),
    ballot: U.toHex(b.bytes),
    tracking: U.toHex(b.tracking),
    selections,
    nonces: b.nonces.map((l) => l.map((r) => U.toHex(U.scalarToBytes(r)))),
    audit_payload: U.toHex(U.encodeAuditPayload(b.bytes, b.selections, b.nonces)),
  };
});

const out = {
  description: 'Ballots encrypted by the TypeScript client (web/src/crypto), checked by the Rust crate',
  election: { manifest_hash: U.toHex(manifestHash), secret_key: U.toHex(U.scalarToBytes(secret)), joint_key: U.toHex(K.toBytes()), fingerprint: U.toHex(F) },
  header: U.toHex(header),
  ballots,
};
const path = process.argv[2] ?? 'fixtures/ts-ballots.json';
writeFileSync(path, JSON.stringify(out, null, 2) + '\n');
console.log(`wrote ${ballots.length} ballots to ${path}`);
