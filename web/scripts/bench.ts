// Node timing of encrypting + proving + signing a 1-of-n ballot:
// node test-dist/bench.mjs [n] [runs]. "cold" uses a fresh election key each
// run (as a voter's one ballot does: includes the key's precomputation).
import * as U from '../src/crypto/index.js';
const n = Number(process.argv[2] ?? 20);
const runs = Number(process.argv[3] ?? 7);
const shapes = [{ options: n, option_max: 1, min: 1, max: 1 }];
const sel = [Array.from({ length: n }, (_, i) => (i === 3 ? 1 : 0))];
const x = U.randomScalar();
const election = (): U.Election => {
  const K = U.mul(U.G, U.randomScalar());
  return { key: K, fingerprint: U.fingerprintElection(U.randomBytes(32), K) };
};
const warm = election();
U.encryptBallot(warm, x, U.ballotHeader('bench', 'd'), shapes, sel);
const median = (ms: number[]) => [...ms].sort((a, b) => a - b)[Math.floor(ms.length / 2)];
const time = (e: () => U.Election): number[] =>
  Array.from({ length: runs }, () => {
    const el = e();
    const t0 = performance.now();
    U.encryptBallot(el, x, U.ballotHeader('bench', 'd'), shapes, sel);
    return performance.now() - t0;
  });
const w = time(() => warm);
const c = time(election);
console.log(`node: 1-of-${n} ballot: warm key median ${median(w).toFixed(1)} ms, cold key median ${median(c).toFixed(1)} ms (${runs} runs each)`);
