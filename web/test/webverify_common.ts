// Shared by the browser verifier's Node tests: reads a record folder's
// head (export.md §X1): the board key, the final checkpoint and every file
// in checkpoints/ (names are checked by the verifier, not here).
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { RecordHead } from '../src/verify/verifier.js';

export function readHead(dir: URL): RecordHead {
  const cpDir = new URL('checkpoints/', dir);
  const checkpointFiles = existsSync(cpDir)
    ? readdirSync(cpDir)
        .filter((name) => statSync(new URL(name, cpDir)).isFile())
        .sort()
        .map((name) => ({ name, text: readFileSync(new URL(name, cpDir), 'utf8') }))
    : [];
  return {
    boardKey: readFileSync(new URL('board-key.txt', dir), 'utf8'),
    checkpoint: readFileSync(new URL('checkpoint.txt', dir), 'utf8'),
    checkpointFiles,
  };
}
