// Builds the web app into dist/ (or, with --tests, the Node tests into test-dist/).
import { build } from 'esbuild';
import { cpSync, mkdirSync, readdirSync, rmSync } from 'node:fs';

const tests = process.argv.includes('--tests');
if (tests) {
  rmSync('test-dist', { recursive: true, force: true });
  const entries = [
    ...readdirSync('test').filter((f) => f.endsWith('.test.ts')).map((f) => `test/${f}`),
    'scripts/ts-ballots.ts',
    'scripts/bench.ts',
    'scripts/bench-verify.ts',
  ];
  await build({
    entryPoints: entries,
    outdir: 'test-dist',
    outbase: '.',
    entryNames: '[name]',
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outExtension: { '.js': '.mjs' },
    packages: 'external',
    logLevel: 'warning',
  });
} else {
  rmSync('dist', { recursive: true, force: true });
  mkdirSync('dist', { recursive: true });
  await build({
    entryPoints: ['src/app/main.ts'],
    outfile: 'dist/app.js',
    bundle: true,
    format: 'esm',
    target: 'es2022',
    minify: true,
    sourcemap: true,
    legalComments: 'linked',
    logLevel: 'warning',
  });
  // The whole-election verifier runs in a module Web Worker (src/verify/worker.ts).
  await build({
    entryPoints: ['src/verify/worker.ts'],
    outfile: 'dist/verify-worker.js',
    bundle: true,
    format: 'esm',
    target: 'es2022',
    minify: true,
    sourcemap: true,
    legalComments: 'linked',
    logLevel: 'warning',
  });
  cpSync('static', 'dist', { recursive: true });
}
