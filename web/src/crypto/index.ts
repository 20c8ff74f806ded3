export * from './bytes.js';
export * from './group.js';
export * from './elgamal.js';
export * from './proofs.js';
export * from './ballot.js';
export * from './board.js';
export * from './threshold.js';
export * from './dkg.js';
