// The public ballot box marks ballots replaced by a later ballot of the
// same credential (record.md §R6.3): they stay listed but do not count.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BoxEntry, markReplaced } from '../src/app/ballotbox.js';

const e = (index: number, credential: string, kind: BoxEntry['kind'] = 'ballot'): BoxEntry => ({ index, kind, tracking: String(index).padStart(64, '0'), credential });

test('the last ballot of each credential counts; earlier ones are marked replaced', () => {
  const marked = markReplaced([e(3, 'a'), e(4, 'b'), e(5, 'a', 'audited_ballot'), e(7, 'a'), e(9, 'c'), e(11, 'a')]);
  assert.deepEqual(marked.map((m) => [m.index, m.replaced === true]), [[3, true], [4, false], [5, false], [7, true], [9, false], [11, false]]);
});

test('one ballot per credential (the forbidden policy): nothing is marked', () => {
  assert.ok(markReplaced([e(1, 'a'), e(2, 'b'), e(3, 'c')]).every((m) => !m.replaced));
});
