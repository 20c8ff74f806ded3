// Every message key used by the app exists in both message files, and the
// files have the same keys and the same {placeholders}.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import en from '../src/i18n/en.json';
import ru from '../src/i18n/ru.json';

const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

test('en and ru have the same keys and placeholders', () => {
  assert.deepEqual(Object.keys(ru).sort(), Object.keys(en).sort());
  for (const k of Object.keys(en)) assert.deepEqual(placeholders((ru as any)[k]), placeholders((en as any)[k]), k);
});

test('every literal key used in src/app is in the message files', () => {
  const dir = new URL('../src/app/', import.meta.url);
  const used = new Set<string>();
  for (const f of readdirSync(dir)) {
    const src = readFileSync(new URL(f, dir), 'utf8');
    for (const m of src.matchAll(/\bt\('([a-zA-Z0-9_.]+)'/g)) used.add(m[1]);
  }
  assert.ok(used.size > 50);
  for (const k of used) assert.ok(k in en, `missing message ${k}`);
});
