// Short receipt codes (spec/receipt-code.md).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ALPHABET, matchesPrefix, parseShortCode, shortCode } from '../src/app/receiptcode.js';

const T = 'c0ffee0123456789abcdef0123456789abcdef0123456789abcdef0123456789';

test('the spec vector', () => {
  assert.equal(shortCode(T), 'R3ZY-W093-8NKR-KAYF');
  assert.equal(shortCode('00'.repeat(32)), '0000-0000-0000-0000');
  assert.equal(shortCode('ff'.repeat(32)), 'ZZZZ-ZZZZ-ZZZZ-ZZZF');
});

test('a short code is read back forgivingly and names its tracking code', () => {
  const s = shortCode(T);
  for (const typed of [s, s.toLowerCase(), s.replace(/-/g, ' '), ` ${s.replace(/-/g, '')} `]) {
    const p = parseShortCode(typed);
    assert.ok(p, typed);
    assert.equal(p.code, s);
    assert.ok(matchesPrefix(T, p.prefixBits));
  }
  // Crockford: O reads as 0, I and L as 1.
  assert.equal(parseShortCode('0000-0000-0000-0000')?.code, parseShortCode('OOOO-oooo-0000-0000')?.code);
  assert.ok(!matchesPrefix('c1' + T.slice(2), parseShortCode(s)!.prefixBits));
});

test('every single wrong symbol and every swap of two different neighbours is caught', () => {
  const s = shortCode(T).replace(/-/g, '');
  let swaps = 0;
  let caught = 0;
  for (let i = 0; i < s.length; i++) {
    for (const c of ALPHABET) {
      if (c === s[i]) continue;
      assert.equal(parseShortCode(s.slice(0, i) + c + s.slice(i + 1)), null, `${i} → ${c}`);
    }
    if (i + 1 < s.length && s[i] !== s[i + 1]) {
      swaps++;
      if (parseShortCode(s.slice(0, i) + s[i + 1] + s[i] + s.slice(i + 2)) === null) caught++;
    }
  }
  assert.equal(caught, swaps, 'Luhn mod 32 misses only swaps of 0 and Z (values 0 and 31), absent here');
  assert.equal(parseShortCode('R3ZY-W093-8NKR-KAY'), null, 'too short');
  assert.equal(parseShortCode('R3ZY-W093-8NKR-KAYFF'), null, 'too long');
  assert.equal(parseShortCode('R3ZY-W093-8NKR-KAUF'), null, 'U is not in the alphabet');
});
