// The browser verifier's manifest rules (spec/record.md §R2.1, §R2.3, §R2.5)
// on the example manifests and on one-change mutations of them: each is
// refused with the path of its problem.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readManifest } from '../src/verify/manifest.js';

const EXAMPLES = new URL('../../examples/', import.meta.url);
const read = (name: string) => readFileSync(new URL(name, EXAMPLES), 'utf8');
const bytes = (s: string) => new TextEncoder().encode(s);

test('manifest: the examples are valid, with their styles', () => {
  for (const name of ['duma-2021.toml', 'moscow-2020-constitution.toml']) {
    const m = readManifest(bytes(read(name)));
    assert.ok(m.districts.length > 0 && m.contests.length > 0, name);
    assert.equal(m.styles.length, m.districts.length);
    for (const style of m.styles) assert.ok(style.length >= 1);
  }
});

test('manifest: the small record election (styles follow regions/districts scopes, §R2.3)', () => {
  const text = `id = "small"
kind = "election"
title = { en = "Small" }
[schedule]
time_zone = "Europe/Moscow"
applications_open = 2021-08-02T00:00:00+03:00
applications_close = 2021-09-14T00:00:00+03:00
voting_opens = "2021-09-17T08:00:00+03:00"
voting_closes = 2021-09-19T20:00:00+03:00
[revote]
policy = "last-counts"
[reconciliation]
paper_after_evote = "evote-annulled"
[trustees]
n = 3
t = 2
[[regions]]
id = "r1"
name = "R1"
districts = [{ id = "d1", name = "D1", precincts = [{ id = "p1", name = "P1" }] }, { id = "d2", name = "D2", precincts = [{ id = "p2", name = "P2" }] }]
[[regions]]
id = "r2"
name = "R2"
districts = [{ id = "d3", name = "D3", precincts = [{ id = "p3", name = "P3" }] }]
[[contests]]
id = "all"
kind = "party-list"
title = "All"
min = 1
max = 1
options = [{ id = "a", name = "A" }, { id = "b", name = "B" }]
[[contests]]
id = "one"
kind = "candidates"
title = "One"
districts = ["d1"]
min = 0
max = 1
options = [{ id = "x", name = "X" }]
[[contests]]
id = "reg"
kind = "question"
title = "Reg"
regions = ["r1"]
min = 0
max = 1
options = [{ id = "yes", name = "Yes" }]
`;
  const m = readManifest(bytes(text));
  assert.deepEqual(m.styles, [[0, 1, 2], [0, 2], [0]]);
  assert.deepEqual(m.contests[0].shape, { options: 2, option_max: 1, min: 1, max: 1 });
  assert.equal(m.revote, 'last-counts');
  assert.equal(m.t, 2);

  const refused: [string, (s: string) => string, RegExp][] = [
    ['an unknown top-level key', (s) => 'colour = "red"\n' + s, /colour: unknown key/],
    ['an unknown key in a contest', (s) => s.replace('kind = "question"', 'kind = "question"\nweight = 2'), /contests\[2\]\.weight: unknown key/],
    ['a district id used twice', (s) => s.replace('id = "d3"', 'id = "d1"'), /districts: id "d1" appears twice/],
    ['an option id used twice', (s) => s.replace('{ id = "b", name = "B" }', '{ id = "a", name = "B" }'), /contests\[0\]\.options: id "a"/],
    ['a local date-time', (s) => s.replace('voting_closes = 2021-09-19T20:00:00+03:00', 'voting_closes = 2021-09-19T20:00:00'), /schedule\.voting_closes/],
    ['windows out of order', (s) => s.replace('voting_opens = "2021-09-17T08:00:00+03:00"', 'voting_opens = "2021-09-13T08:00:00+03:00"'), /schedule: the windows are out of order/],
    ['min above max', (s) => s.replace('min = 1\nmax = 1', 'min = 2\nmax = 1'), /contests\[0\]/],
    ['t above n', (s) => s.replace('t = 2', 't = 4'), /trustees/],
    ['a bad identifier', (s) => s.replace('id = "p3"', 'id = "P3"'), /precincts\[0\]\.id: not an identifier/],
    ['regions and districts together', (s) => s.replace('districts = ["d1"]', 'districts = ["d1"]\nregions = ["r1"]'), /regions and districts together/],
    ['a scope naming no district', (s) => s.replace('districts = ["d1"]', 'districts = ["d9"]'), /contests\[1\]\.districts: "d9" is not in the manifest/],
    ['a name of white space only', (s) => s.replace('name = "X"', 'name = "  "'), /options\[0\]\.name: holds only white space/],
    ['min_interval_seconds with forbidden', (s) => s.replace('policy = "last-counts"', 'policy = "forbidden"\nmin_interval_seconds = 5'), /revote\.min_interval_seconds/],
    ['a float where an integer goes', (s) => s.replace('n = 3', 'n = 3.0'), /trustees\.n: must be an integer/],
    ['a bidi override in a display text', (s) => s.replace('{ id = "x", name = "X" }', '{ id = "x", name = "X", names = { en = "X\\u202e" } }'), /names\.en: holds a bidirectional/],
    ['a referendum with a candidates contest', (s) => s.replace('kind = "election"', 'kind = "referendum"'), /contests\[0\]\.kind: a referendum has only questions/],
    ['not TOML', (s) => s + '\n[[[', /not TOML/],
  ];
  for (const [what, change, why] of refused) {
    const changed = change(text);
    assert.notEqual(changed, text, `${what}: the mutation applies`);
    assert.throws(() => readManifest(bytes(changed)), why, what);
  }
  assert.throws(() => readManifest(Uint8Array.of(0xff, 0xfe)), /not UTF-8/);
});
