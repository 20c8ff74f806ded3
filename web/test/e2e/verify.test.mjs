// "Verify this election" in headless Chromium: the whole-election verifier
// (src/verify, in a Web Worker) on a live election run by `urna serve`,
// streamed from the board's entry bundles, agreeing with `urna verify`;
// a tampered bundle served to the page; exported records (valid and
// tampered, spec/test-vectors/records/) chosen with the folder picker,
// giving the failed checks of expected.json; both languages, 360 px without
// sideways scrolling, axe-core with 0 violations. Prints ballots/s.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import { Election } from './election.mjs';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = new URL('../../screenshots/', import.meta.url).pathname;
const RECORDS = new URL('../../../spec/test-vectors/records/', import.meta.url).pathname;
const VOTERS = Number(process.env.E2E_VERIFY_VOTERS ?? 24);
mkdirSync(SHOTS, { recursive: true });
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

let election;
let browser;
let U;

/** axe-core (WCAG 2.1 A/AA) on the page as it is: 0 violations. */
async function noViolations(page, what) {
  await page.screenshot({ path: join(SHOTS, `verify-${what}.png`), fullPage: true });
  if (!(await page.evaluate(() => typeof globalThis.axe !== 'undefined'))) await page.evaluate(AXE);
  const r = await page.evaluate(() => globalThis.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }));
  assert.deepEqual(r.violations.map((v) => `${v.id}: ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`), [], what);
  assert.ok(r.passes.length > 0, `${what}: axe ran`);
}

async function noSideways(page, what) {
  const { sw, w } = await page.evaluate(() => ({ sw: document.documentElement.scrollWidth, w: window.innerWidth }));
  assert.ok(sw <= w, `${what}: no horizontal scrolling at ${w} px (scrollWidth ${sw})`);
}

async function openVerify({ lang = 'en', width = 1000 } = {}) {
  const context = await browser.newContext({ viewport: { width, height: 900 }, locale: lang === 'ru' ? 'ru-RU' : 'en-US' });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(election.base + '/');
  await page.evaluate((l) => localStorage.setItem('urna.lang', l), lang);
  await page.goto(election.base + '/#/verify');
  await page.getByTestId('verify-start').waitFor();
  return { context, page, errors };
}

/** Waits for the verdict; returns it with the failed checks and the measured speed. */
async function verdict(page) {
  const v = page.getByTestId('verify-verdict');
  await v.waitFor({ timeout: 300_000 });
  const failed = page.getByTestId('verify-failed');
  return {
    verdict: await v.getAttribute('data-verdict'),
    failed: (await failed.count()) ? (await failed.getAttribute('data-checks')).split(' ') : [],
    ballots: Number(await v.getAttribute('data-ballots')),
    seconds: Number(await v.getAttribute('data-seconds')),
  };
}

/** A selection inside each shape: `min` ones (at least one if allowed) on the first options. */
function selections(shapes) {
  return shapes.map((s) => {
    const want = Math.max(s.min, Math.min(1, s.max));
    const sel = new Array(s.options).fill(0);
    for (let i = 0, left = want; left > 0; i = (i + 1) % s.options) {
      const add = Math.min(left, s.option_max - sel[i]);
      sel[i] += add;
      left -= add;
    }
    return sel;
  });
}

before(async () => {
  assert.ok(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM}`);
  // The client crypto, to cast real ballots from Node through the API.
  const out = join(mkdtempSync(join(tmpdir(), 'urna-verify-e2e-')), 'crypto.mjs');
  await build({ entryPoints: [new URL('../../src/crypto/index.ts', import.meta.url).pathname], bundle: true, platform: 'node', format: 'esm', outfile: out, logLevel: 'warning' });
  U = await import(out);
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'] });
  // Windows wide enough for a loaded machine: registering and casting take a moment each.
  election = await Election.start({ registrationSeconds: 20 + VOTERS, votingSeconds: 30 + 2 * VOTERS });
});

after(async () => {
  await browser?.close();
  election?.stop();
});

test('a live election: cast, close, tally, decrypt; the page verifies the board like urna verify', async () => {
  const where = [['d1', 'p1'], ['d1', 'p2'], ['d2', 'p3']];
  const voters = [];
  for (let i = 0; i < VOTERS; i++) {
    const [district, precinct] = where[i % where.length];
    const x = U.randomScalar();
    voters.push({ x, district });
    await election.register(district, precinct, U.toHex(U.enc(U.mul(U.G, x))));
  }
  await election.open();
  const styles = {};
  for (const d of ['d1', 'd2']) {
    const s = await (await fetch(`${election.base}/election/style/${d}`)).json();
    const key = U.decodeElement(U.fromHex(s.joint_key, 32), false);
    styles[d] = { election: { key, fingerprint: U.fromHex(s.fingerprint, 32) }, header: U.fromHex(s.header), shapes: s.contests.map((c) => c.shape) };
  }
  for (const v of voters) {
    const s = styles[v.district];
    const b = U.encryptBallot(s.election, v.x, s.header, s.shapes, selections(s.shapes));
    const r = await fetch(`${election.base}/election/ballots`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ballot: U.toHex(b.bytes) }) });
    assert.equal(r.status, 200, await r.text());
  }
  await election.close();
  await election.results();
  const cli = election.verifyRecord();
  assert.equal(cli.status, 0, cli.report);

  const { page, errors, context } = await openVerify();
  await noViolations(page, 'start-en');
  await page.getByTestId('verify-start').click();
  // The page stays responsive while the worker verifies: the heading can be focused and read.
  await page.getByRole('heading', { level: 1 }).click();
  const r = await verdict(page);
  assert.equal(r.verdict, 'valid', JSON.stringify(r));
  assert.equal(r.ballots, VOTERS);
  assert.equal(await page.locator('li.check[data-status=failed]').count(), 0);
  assert.equal(await page.locator('li.check[data-check="ballot.proofs"]').getAttribute('data-status'), 'passed');
  await page.locator('li.check[data-check="ballot.proofs"] summary').click();
  await noViolations(page, 'valid-en');
  console.log(`chromium: ${r.ballots} ballots of a live board verified in ${r.seconds.toFixed(2)} s (${(r.ballots / r.seconds).toFixed(1)} ballots/s, whole record incl. ceremony and decryption)`);
  assert.deepEqual(errors, []);
  await context.close();
});

test('a tampered entry bundle served to the page: the record is invalid', async () => {
  const { page, context } = await openVerify();
  // Flip one byte in the last entry of the first bundle, as a lying server would.
  await page.route(/\/board\/tile\/entries\//, async (route) => {
    const resp = await route.fetch();
    const body = Buffer.from(await resp.body());
    body[body.length - 5] ^= 1;
    await route.fulfill({ response: resp, body });
  });
  await page.getByTestId('verify-start').click();
  const r = await verdict(page);
  assert.equal(r.verdict, 'invalid');
  assert.ok(r.failed.includes('checkpoint.root'), r.failed.join());
  await noViolations(page, 'tampered-en');
  await context.close();
});

test('exported records chosen as a folder give the failed checks of expected.json, in Russian at 360 px', async () => {
  const expected = JSON.parse(readFileSync(join(RECORDS, 'expected.json'), 'utf8'));
  const { page, errors, context } = await openVerify({ lang: 'ru', width: 360 });
  assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Проверить эти выборы');
  await noSideways(page, 'verify ru 360');
  for (const name of ['valid', 'flipped-bit-ballot', 'rewritten-history', 'lists-out-of-order']) {
    await page.getByTestId('verify-folder').setInputFiles(join(RECORDS, name));
    // A new run replaces the previous verdict; wait for the one of this record.
    await page.waitForFunction(() => !document.querySelector('[data-testid=verify-verdict]'));
    const r = await verdict(page);
    assert.deepEqual(r.failed, expected[name].failed_checks, name);
    assert.equal(r.verdict, expected[name].failed_checks.length ? 'invalid' : 'valid', name);
    await noSideways(page, `${name} ru 360`);
    if (name === 'flipped-bit-ballot') {
      assert.match(await page.getByTestId('verify-verdict').textContent(), /НЕ верна/);
      await page.locator('li.check[data-check="ballot.proofs"] summary').click();
      await noViolations(page, 'flipped-bit-ballot-ru-360');
    }
  }
  assert.deepEqual(errors, []);
  await context.close();
});

// Speed in the browser on a large record (BENCHMARKS.md): skipped unless
// URNA_VERIFY_BENCH_RECORD names a record folder, e.g. one made by
//   urna bench verify --ballots 2000 --record /tmp/rec2k
// then: URNA_VERIFY_BENCH_RECORD=/tmp/rec2k node --test test/e2e/verify.test.mjs
const BENCH = process.env.URNA_VERIFY_BENCH_RECORD;
test('speed: a large exported record verified in Chromium', { skip: !BENCH && 'set URNA_VERIFY_BENCH_RECORD=DIR (see the comment above)' }, async () => {
  const { page, context } = await openVerify();
  const t0 = Date.now();
  await page.getByTestId('verify-folder').setInputFiles(BENCH);
  const r = await verdict(page);
  assert.equal(r.verdict, 'valid', JSON.stringify(r));
  console.log(`chromium: ${r.ballots} ballots of ${BENCH} verified in ${r.seconds.toFixed(2)} s in the worker (${(r.ballots / r.seconds).toFixed(1)} ballots/s; ${((Date.now() - t0) / 1000).toFixed(1)} s with reading the folder)`);
  await context.close();
});
