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

test('every counted phrase has all plural forms in both languages (Intl.PluralRules ru: one/few/many/other)', () => {
  const dir = new URL('../src/app/', import.meta.url);
  const used = new Set<string>();
  for (const f of readdirSync(dir)) {
    const src = readFileSync(new URL(f, dir), 'utf8');
    for (const m of src.matchAll(/\bplural\('([a-zA-Z0-9_.]+)'/g)) used.add(m[1]);
  }
  assert.ok(used.size >= 5, [...used].join());
  for (const k of used)
    for (const form of ['one', 'few', 'many', 'other']) {
      assert.ok(`${k}.${form}` in en, `missing en ${k}.${form}`);
      assert.ok(`${k}.${form}` in ru, `missing ru ${k}.${form}`);
    }
  // The forms a Russian reader needs are the ones Intl picks.
  const pr = new Intl.PluralRules('ru-RU');
  assert.deepEqual([1, 3, 5, 21, 1.5].map((n) => pr.select(n)), ['one', 'few', 'many', 'one', 'other']);
});

test('every error code of spec/api.md §A1.3 has a sentence in both languages', () => {
  const spec = readFileSync(new URL('../../spec/api.md', import.meta.url), 'utf8');
  const section = spec.slice(spec.indexOf('### §A1.3'), spec.indexOf('## §A2'));
  const codes = new Set([...section.matchAll(/`([a-z][a-z0-9_]+)`/g)].map((m) => m[1]));
  assert.ok(codes.size > 40, `${codes.size} codes`);
  for (const c of codes) {
    if (c === 'urna_election') continue;
    assert.ok(`err.${c}` in en, `missing en err.${c}`);
    assert.ok(`err.${c}` in ru, `missing ru err.${c}`);
  }
  // No English left in a Russian error sentence.
  for (const [k, v] of Object.entries(ru)) if (k.startsWith('err.')) assert.doesNotMatch((v as string).replace(/\{\w+\}/g, ''), /[A-Za-z]{3,}/, k);
});

test('every board entry kind has a name in both languages', () => {
  const kinds = ['election_manifest', 'trustee_ceremony', 'credential_list', 'voting_opened', 'ballot', 'audited_ballot', 'voting_closed', 'reconciliation', 'partial_decryption', 'results', 'admin_action', 'complaint', 'complaint_answer', 'cosigned_checkpoint'];
  for (const k of kinds) assert.ok(`kind.${k}` in en && `kind.${k}` in ru, k);
});
