// Issue 14 item 4: the trustee page in headless Chromium against a real
// `urna serve`. A 2-of-3 key ceremony with two browser trustees and one
// `urna trustee --server` trustee; voting; the close and the tally; the
// page refuses a tally that does not match the board (a forged
// `GET /election/tally`, a forged board entry); all three trustees decrypt
// (the second browser trustee from a key file exported and imported into
// a fresh browser); results; `urna verify` VALID on the export. The
// observer dashboard is looked at while voting runs (charts with data).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { Election, urna } from './election.mjs';
import { CHROMIUM, LAUNCH, PageChecks, newPage } from './pagecheck.mjs';

const PASS = 'four words make a passphrase';
const checks = new PageChecks();
let election;
let browser;
const tr = {};

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Re-renders the trustee page and waits until the render is on screen. */
async function refresh(page) {
  const before = await page.locator('main').getAttribute('data-rendered');
  await page.getByTestId('trustee-refresh').click();
  await page.waitForFunction((b) => document.querySelector('main')?.dataset.rendered !== b, before);
}

/** Waits (refreshing) until the next step can run, runs it, and waits for its result line. */
async function step(page, expected) {
  for (let i = 0; i < 120; i++) {
    await refresh(page);
    if (await page.getByTestId('trustee-step').isEnabled()) break;
    await sleep(500);
  }
  await page.getByTestId('trustee-step').click();
  await page.getByTestId('trustee-result').getByText(expected).waitFor({ timeout: 60_000 });
}

function cli(cmd, ...extra) {
  const d = election.dir;
  return urna(['trustee', cmd, '--server', election.base, '--token-file', join(d, 't3.token'), '--store', join(d, 't3.key'), ...extra]);
}

async function voter(district, precinct, fill) {
  const { page, context } = await newPage(browser, election.base);
  await page.goto(election.base + '/#/vote');
  await page.locator('#district').waitFor();
  await page.selectOption('#district', district);
  await page.selectOption('#precinct', precinct);
  await page.getByTestId('new-credential').click();
  const credential = (await page.getByTestId('public-credential').textContent()).trim();
  await election.register(district, precinct, credential);
  return { page, context, fill };
}

async function vote(v) {
  const { page } = v;
  await page.goto(election.base + '/#/');
  await page.goto(election.base + '/#/vote');
  await page.getByRole('button', { name: 'Continue to the ballot' }).click();
  await page.locator('main fieldset').first().waitFor();
  await v.fill(page);
  await page.getByRole('button', { name: 'Review my choices' }).click();
  await page.getByRole('button', { name: 'Encrypt the ballot' }).click();
  await page.getByTestId('cast').click();
  await page.getByTestId('tracking').waitFor({ state: 'attached' });
}

before(async () => {
  assert.ok(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM}`);
  election = await Election.start({
    registrationSeconds: Number(process.env.E2E_TRUSTEE_REGISTRATION_S ?? 80),
    votingSeconds: Number(process.env.E2E_TRUSTEE_VOTING_S ?? 45),
    trustees: { n: 3, t: 2 },
    ceremony: false,
  });
  browser = await chromium.launch(LAUNCH);
});

after(async () => {
  await browser?.close();
  election?.stop();
});

test('key ceremony: two browser trustees and one `urna trustee --server`', async () => {
  const tokens = [];
  for (const j of [1, 2, 3]) tokens[j] = (await election.admin('POST', `/election/trustees/${j}/token`)).token;
  writeFileSync(join(election.dir, 't3.token'), tokens[3] + '\n');
  tr[1] = await newPage(browser, election.base, { lang: 'en' });
  tr[2] = await newPage(browser, election.base, { lang: 'ru', width: 360 });
  for (const j of [1, 2]) {
    const { page } = tr[j];
    await page.goto(election.base + '/#/trustee');
    await page.getByTestId('trustee-create').waitFor();
    await checks.state(page, `trustee-${j}-new-key-${j === 1 ? 'en' : 'ru-360'}`);
    await page.selectOption('#tr-index', String(j));
    await page.fill('#tr-token', tokens[j]);
    // A short passphrase and a typo are refused before anything is made.
    await page.fill('#tr-pass', 'short');
    await page.fill('#tr-pass2', 'short');
    await page.getByTestId('trustee-create').click();
    await page.getByTestId('trustee-result').locator('[role=alert]').waitFor();
    await page.fill('#tr-pass', PASS);
    await page.fill('#tr-pass2', PASS + 'x');
    await page.getByTestId('trustee-create').click();
    await page.getByTestId('trustee-result').getByText(j === 1 ? 'The two passphrases differ.' : 'Парольные фразы не совпадают.').waitFor();
    await page.fill('#tr-pass2', PASS);
    await page.getByTestId('trustee-create').click();
    await page.getByTestId('trustee-result').getByText(j === 1 ? 'Round 1 published' : 'Раунд 1 опубликован').waitFor({ timeout: 30_000 });
    // The secret is sealed in this browser: the stored file holds no clear scalar and names its KDF.
    const stored = await page.evaluate(() => Object.entries(localStorage).find(([k]) => k.startsWith('urna.trustee.'))?.[1]);
    const file = JSON.parse(stored);
    assert.equal(file.kdf.name, 'PBKDF2');
    assert.ok(file.kdf.iterations >= 600000);
    assert.equal(file.phase, 'committed');
    assert.equal(file.trustee, j);
    await checks.state(page, `trustee-${j}-committed-${j === 1 ? 'en' : 'ru-360'}`);
  }
  // Nothing secret went to the server: only the §R3 messages and the tokens.
  cli('init', '--index', '3');
  const ceremony = await (await fetch(election.base + '/election/ceremony')).json();
  assert.equal(ceremony.messages.length, 3);
  await step(tr[1].page, 'Round 2 published');
  await step(tr[2].page, 'Раунд 2 опубликован');
  cli('deal');
  await step(tr[1].page, 'Shares checked: 0 complaints published.');
  await step(tr[2].page, 'Доли проверены: опубликовано 0 жалоб.');
  cli('receive');
  await election.admin('POST', '/election/ceremony/finish');
  await step(tr[1].page, 'Your key share is computed');
  await step(tr[2].page, 'Ваша доля ключа вычислена');
  cli('finish');
  const status = await (await fetch(election.base + '/election/status')).json();
  for (const j of [1, 2]) assert.equal((await tr[j].page.getByTestId('trustee-joint-key').textContent()).trim(), status.joint_key);
  await checks.state(tr[1].page, 'trustee-1-finished-en');
  await checks.state(tr[2].page, 'trustee-2-finished-ru-360');
});

test('the second browser trustee moves its key to another browser with the exported file', async () => {
  const { page } = tr[2];
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('trustee-export').click()]);
  const path = join(election.dir, 'trustee-2.json');
  await download.saveAs(path);
  await tr[2].context.close();
  tr[2] = await newPage(browser, election.base, { lang: 'ru', width: 360 });
  await tr[2].page.goto(election.base + '/#/trustee');
  await tr[2].page.getByTestId('trustee-import').setInputFiles(path);
  await tr[2].page.getByTestId('trustee-result').getByText('Файл ключа доверенного лица 2 загружен').waitFor();
  await tr[2].page.fill('#tr-unlock', 'not the passphrase');
  await tr[2].page.getByTestId('trustee-unlock').click();
  await tr[2].page.getByTestId('trustee-result').getByText('wrong_passphrase', { exact: false }).waitFor({ timeout: 30_000 });
  await checks.state(tr[2].page, 'trustee-2-wrong-passphrase-ru-360');
  await tr[2].page.fill('#tr-unlock', PASS);
  await tr[2].page.getByTestId('trustee-unlock').click();
  await tr[2].page.getByTestId('trustee-joint-key').waitFor({ timeout: 30_000 });
});

test('voting, with the observer dashboard showing turnout charts', async () => {
  const a = await voter('d1', 'p1', async (p) => {
    await p.getByLabel('Yes', { exact: true }).check();
    await p.getByLabel('Boris Petrov').check();
    await p.getByLabel('Bridges Party', { exact: true }).check();
  });
  const b = await voter('d2', 'p3', async (p) => {
    await p.getByLabel('No', { exact: true }).check();
    await p.getByLabel('Gardens Party', { exact: true }).check();
  });
  await election.open();
  await vote(a);
  await vote(b);
  const obs = await newPage(browser, election.base, { lang: 'en' });
  await obs.page.goto(election.base + '/#/observer');
  await obs.page.getByTestId('observer-summary').waitFor();
  assert.match(await obs.page.getByTestId('observer-summary').textContent(), /^2 of 2 registered voters have voted\./);
  assert.equal(await obs.page.locator('svg[role=img]').count(), 2, 'a region chart and an hour chart');
  await checks.state(obs.page, 'observer-voting-en');
  await obs.context.close();
  await election.close();
  await election.admin('POST', '/election/tally');
});

test('the trustee page refuses a tally that is not the board’s, and decrypts nothing', async () => {
  const { page, context } = tr[1];
  let posted = 0;
  await context.route((u) => /^\/election\/trustees\/\d+\/partials$/.test(u.pathname), (r) => {
    posted++;
    return r.continue();
  });
  await refresh(page);
  // 1. The server hands out another tally than the board's (one byte changed).
  const tallyUrl = (u) => u.pathname === '/election/tally';
  const entriesUrl = (u) => u.pathname === '/board/entries';
  await page.route(tallyUrl, async (route) => {
    const resp = await route.fetch();
    const j = await resp.json();
    const last = j.payloads[0].slice(-2) === '00' ? '01' : '00';
    j.payloads[0] = j.payloads[0].slice(0, -2) + last;
    await route.fulfill({ response: resp, json: j });
  });
  await page.getByTestId('trustee-check').click();
  await page.getByTestId('trustee-result').getByText('Refused, nothing decrypted:', { exact: false }).waitFor({ timeout: 60_000 });
  assert.match(await page.getByTestId('trustee-result').textContent(), /tally_mismatch/);
  assert.equal(await page.getByTestId('trustee-decrypt').isDisabled(), true);
  await checks.state(page, 'trustee-1-refused-en');
  await page.unroute(tallyUrl);
  // 2. The board's entries are not those of its signed checkpoint (a forged tally entry).
  await page.route(entriesUrl, async (route) => {
    const resp = await route.fetch();
    const j = await resp.json();
    for (const e of j.entries)
      if (e.kind === 'admin_action') {
        const b = Buffer.from(e.entry, 'base64');
        b[b.length - 1] ^= 1;
        e.entry = b.toString('base64');
      }
    await route.fulfill({ response: resp, json: j });
  });
  await page.getByTestId('trustee-check').click();
  await page.waitForFunction(() => /checkpoint\.root/.test(document.querySelector('[data-testid=trustee-result]')?.textContent ?? ''), null, { timeout: 60_000 });
  await page.unroute(entriesUrl);
  assert.equal(posted, 0, 'no partial decryption was posted');
});

test('all three trustees decrypt; results; `urna verify` VALID', async () => {
  const hashes = [];
  for (const j of [1, 2]) {
    const { page } = tr[j];
    await refresh(page);
    await page.getByTestId('trustee-check').click();
    await page.getByTestId('tally-summary').waitFor({ timeout: 120_000 });
    const summary = await page.getByTestId('tally-summary').textContent();
    assert.match(summary, j === 1 ? /2 counted ballots of 2 cast\./ : /Засчитано бюллетеней: 2 из 2 поданных\./);
    hashes.push((await page.getByTestId('tally-hash').textContent()).trim());
    await checks.state(page, `trustee-${j}-about-to-decrypt-${j === 1 ? 'en' : 'ru-360'}`);
    await page.getByTestId('trustee-decrypt').click();
    await page.getByTestId('trustee-result').getByText(j === 1 ? 'Your partial decryption is published.' : 'Ваша частичная расшифровка опубликована.').waitFor({ timeout: 120_000 });
  }
  assert.equal(hashes[0], hashes[1], 'both trustees saw the same tally');
  cli('decrypt');
  const results = await election.admin('POST', '/election/results');
  assert.ok(results);
  const r = await (await fetch(election.base + '/election/results')).json();
  const total = r.results.find((x) => x.scope === 'total' && x.contest === 'question');
  assert.deepEqual(total.counts, [1, 1]);
  const { status, report } = election.verifyRecord();
  assert.equal(status, 0, report);
  for (const j of [1, 2]) assert.deepEqual(tr[j].errors, []);
  assert.deepEqual(checks.violations, [], checks.violations.join('\n'));
  console.log(`# trustee pages: ${checks.scans} page states scanned with axe, 0 violations`);
});
