// Node timing of encrypting + proving + signing a 1-of-n ballot: node test-dist/bench.mjs [n] [runs]
import * as U from '../src/crypto/index.js';
const n = Number(process.argv[2] ?? 20);
const runs = Number(process.argv[3] ?? 7);
const K = U.mul(U.G, U.randomScalar());
const e: U.Election = { key: K, fingerprint: U.fingerprintElection(U.randomBytes(32), K) };
const shapes = [{ options: n, option_max: 1, min: 1, max: 1 }];
const sel = [Array.from({ length: n }, (_, i) => (i === 3 ? 1 : 0))];
const x = U.randomScalar();
U.encryptBallot(e, x, U.ballotHeader('bench', 'd'), shapes, sel);
const ms: number[] = [];
for (let i = 0; i < runs; i++) {
  const t0 = performance.now();
  const b = U.encryptBallot(e, x, U.ballotHeader('bench', 'd'), shapes, sel);
  ms.push(performance.now() - t0);
  if (i === 0) U.decodeAndVerifyBallot(b.bytes, shapes, e);
}
ms.sort((a, b) => a - b);
console.log(`node: 1-of-${n} ballot: median ${ms[Math.floor(runs / 2)].toFixed(1)} ms (min ${ms[0].toFixed(1)}, max ${ms[runs - 1].toFixed(1)})`);
