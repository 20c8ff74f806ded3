// Issue 14 item 5: the observers' dashboard in headless Chromium against a
// real `urna serve --registration` (complaints on): in English and
// Russian, at desktop width and at 360 px, each page state scanned with
// axe (0 violations) and, at 360 px, no horizontal scrolling. States: the
// first visit; complaints with and without an answer; the ALARM when the
// board's new checkpoint does not extend the one this device saw (a
// forged consistency proof); an observer's cosignature. No request for
// results or the tally is made before the close.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { Election, URNA } from './election.mjs';
import { CHROMIUM, LAUNCH, PageChecks, newPage } from './pagecheck.mjs';

const checks = new PageChecks();
let election;
let browser;
let complaints = 0;

before(async () => {
  assert.ok(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM}`);
  election = await Election.start({ registration: true, registrationSeconds: 3600, votingSeconds: 3600 });
  browser = await chromium.launch(LAUNCH);
});

after(async () => {
  await browser?.close();
  election?.stop();
});

/** A complaint filed on the board (it grows the board); every other one answered by the commission. */
async function fileComplaint() {
  complaints++;
  const r = await fetch(election.base + '/registration/complaints', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ author: 'observer', text: `Observer complaint ${complaints}: the precinct list was late.` }),
  });
  const body = await r.text();
  assert.equal(r.status, 201, body);
  const { id } = JSON.parse(body);
  if (complaints % 2 === 1) await election.admin('POST', `/registration/complaints/${id}/answer`, { status: 'answered', answer: `Answer to ${complaints}: published now.` });
}

async function dashboard(page) {
  await page.goto(election.base + '/#/');
  await page.goto(election.base + '/#/observer');
  await page.getByTestId('observer-updated').waitFor();
}

for (const [lang, width] of [['en', 1100], ['ru', 1100], ['en', 360], ['ru', 360]]) {
  test(`the dashboard in ${lang} at ${width} px: first visit, complaints, alarm`, async () => {
    const name = `observer-${lang}-${width}`;
    const { page, context, errors } = await newPage(browser, election.base, { lang, width });
    const asked = [];
    context.on('request', (r) => asked.push(new URL(r.url()).pathname));
    await dashboard(page);
    // The first visit remembers the checkpoint; nothing to compare yet.
    assert.match(await page.getByTestId('observer-consistency').textContent(), lang === 'en' ? /has not seen this board before/ : /ещё не видело эту доску/);
    assert.equal(await page.getByTestId('observer-alarm').count(), 0);
    assert.match(await page.getByTestId('observer-refusals').textContent(), lang === 'en' ? /does not publish refusal statistics/ : /не публикует статистику отказов/);
    assert.equal(await page.locator('[data-testid=obs-turnout] svg[role=img]').count(), 1, 'the region chart (no ballots: no hour chart)');
    await checks.state(page, `${name}-first`);
    // The board grows (complaints, one answered); the page follows it.
    await fileComplaint();
    await fileComplaint();
    await dashboard(page);
    assert.match(await page.getByTestId('observer-consistency').textContent(), lang === 'en' ? /only grew since this device last saw it/ : /только росла/);
    const list = await page.getByTestId('obs-complaints').textContent();
    assert.ok(list.includes(`Observer complaint ${complaints}`) && list.includes('published now.'), list);
    await checks.state(page, `${name}-complaints`);
    // A board that rewrote its history: the consistency proof fails → ALARM.
    await fileComplaint();
    await page.route((u) => u.pathname === '/board/proof/consistency', async (route) => {
      const resp = await route.fetch();
      const j = await resp.json();
      j.proof = j.proof.map((h) => (h[0] === '0' ? '1' : '0') + h.slice(1));
      await route.fulfill({ response: resp, json: j });
    });
    await dashboard(page);
    await page.getByTestId('observer-alarm').waitFor();
    assert.match(await page.getByTestId('observer-alarm').textContent(), lang === 'en' ? /^ALARM:.*not an extension/ : /^ТРЕВОГА:/);
    await checks.state(page, `${name}-alarm`);
    await page.unroute((u) => u.pathname === '/board/proof/consistency');
    // No early results: the dashboard never asks for them.
    assert.ok(!asked.some((p) => p === '/election/results' || p === '/election/tally'), asked.join(' '));
    assert.deepEqual(errors, []);
    await context.close();
  });
}

test('an observer cosigns with `urna observe`; the dashboard lists the cosigner', async () => {
  try {
    execFileSync(URNA, ['observe', election.base, '--key', join(election.dir, 'observer.key'), '--name', 'observer.ngo.example', '--duration', '4', '--interval', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    assert.fail(`urna observe: ${e.status}\n${e.stdout}\n${e.stderr}`);
  }
  const { page, context } = await newPage(browser, election.base, { lang: 'en', width: 360 });
  await dashboard(page);
  assert.match(await page.getByTestId('observer-cosigners').textContent(), /observer\.ngo\.example/);
  await checks.state(page, 'observer-en-360-cosigned');
  await context.close();
  assert.deepEqual(checks.violations, [], checks.violations.join('\n'));
  console.log(`# observer dashboard: ${checks.scans} page states scanned with axe, 0 violations`);
});
