// End-to-end tests in headless Chromium (Debian's, driven by
// playwright-core) against a real `urna serve` with a small election:
// make credentials → vote → receipt → check the receipt; audit then cast;
// an unregistered voter and a ballot after the close see the server's
// error; turnout and results pages. Screenshots go to web/screenshots/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { Election } from './election.mjs';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = new URL('../../screenshots/', import.meta.url).pathname;
mkdirSync(SHOTS, { recursive: true });

let election;
let browser;
const voters = {};

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const a11y = [];
let scans = 0;

/** A screenshot, and an axe-core scan (WCAG 2.1 A/AA rules) of the page as it is. */
async function shot(page, name) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  if (!(await page.evaluate(() => typeof globalThis.axe !== 'undefined'))) await page.evaluate(AXE);
  const r = await page.evaluate(() => globalThis.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }));
  scans += r.passes.length > 0 ? 1 : 0;
  for (const v of r.violations) a11y.push(`${name}: ${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')}`);
}

async function newVoter(name, { width = 1000, lang = 'en' } = {}) {
  // The voter's own time zone: Moscow for the Russian voter, London for the English one.
  const context = await browser.newContext({ viewport: { width, height: 800 }, locale: lang === 'ru' ? 'ru-RU' : 'en-US', timezoneId: lang === 'ru' ? 'Europe/Moscow' : 'Europe/London' });
  // Every request must go to the urna server: count anything else.
  const foreign = [];
  context.on('request', (r) => {
    const u = new URL(r.url());
    if (!['data:', 'blob:'].includes(u.protocol) && u.origin !== election.base) foreign.push(r.url());
  });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  await page.goto(election.base + '/');
  await page.evaluate((l) => localStorage.setItem('urna.lang', l), lang);
  voters[name] = { context, page, foreign, errors };
  return voters[name];
}

/** The login seam today: a credential made on the device, registered by the commission (admin). */
async function makeCredential(v, district, precinct, register = true) {
  const { page } = v;
  await page.goto(election.base + '/#/vote');
  await page.locator('#district').waitFor();
  await page.selectOption('#district', district);
  await page.selectOption('#precinct', precinct);
  await page.getByTestId('new-credential').click();
  const credential = (await page.getByTestId('public-credential').textContent()).trim();
  assert.match(credential, /^[0-9a-f]{64}$/);
  if (register) await election.register(district, precinct, credential);
  return credential;
}

async function fillBallotD1(page) {
  await page.getByLabel('Yes', { exact: true }).check();
  await page.getByLabel('Boris Petrov').check();
  await page.getByLabel('Grigory Orlov').check();
  await page.getByLabel('Schools', { exact: true }).fill('2');
  await page.getByLabel('Bridges Party', { exact: true }).check();
}

/** The page is no wider than the screen: nothing scrolls sideways (issue 13.2). */
async function noSideways(page, what) {
  const { sw, w } = await page.evaluate(() => ({ sw: document.documentElement.scrollWidth, w: window.innerWidth }));
  assert.ok(sw <= w, `${what}: no horizontal scrolling at ${w} px (scrollWidth ${sw})`);
}

/**
 * The words a Russian voter reads are Russian (issue 13.6): the text of
 * <main> outside codes and technical details has no Latin word, except
 * the codes of errors in parentheses and the short receipt codes.
 */
async function noEnglish(page, what) {
  const text = await page.evaluate(() => {
    const m = document.querySelector('main').cloneNode(true);
    m.querySelectorAll('details, code, .code, select').forEach((e) => e.remove());
    return m.textContent;
  });
  const words = (text.replace(/\(код [a-z_]+\)/g, '').replace(/[0-9A-Z]{4}(-[0-9A-Z]{4}){3}/g, '').match(/[A-Za-z]{3,}/g) ?? []).filter((w) => !['urna', 'CSV', 'GMT', 'UTC'].includes(w));
  assert.deepEqual(words, [], `${what}: English words on a Russian page: ${text}`);
}

/** No caveat wears a tick: every ✓ is on a step that passed (issue 13.3). */
async function noTickOnCaveat(page) {
  const steps = await page.locator('ul.steps li').evaluateAll((els) => els.map((e) => ({ status: e.dataset.status, mark: e.querySelector('.mark')?.textContent })));
  assert.ok(steps.length >= 3, JSON.stringify(steps));
  for (const s of steps) assert.equal(s.mark === '✓', s.status === 'ok', JSON.stringify(s));
  return steps;
}

async function toBallot(page) {
  await page.goto(election.base + '/#/');
  await page.goto(election.base + '/#/vote');
  await page.getByRole('button', { name: /Continue to the ballot|Перейти к бюллетеню/ }).click();
  await page.getByRole('heading', { level: 1, name: /Ballot|Бюллетень/ }).waitFor();
  // The ballot, or the notice that voting is not open: never the loading line.
  await page.locator('main fieldset, [data-testid=ballot-closed]').first().waitFor();
}

before(async () => {
  assert.ok(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM} (apt-get install -y chromium)`);
  election = await Election.start({ registrationSeconds: Number(process.env.E2E_REGISTRATION_S ?? 120), votingSeconds: Number(process.env.E2E_VOTING_S ?? 150) });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    // headless; playwright gives every launch a fresh temporary profile (user data dir).
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
});

after(async () => {
  await browser?.close();
  election?.stop();
});

test('registration: voters make credentials on their devices; the commission registers them', async () => {
  const alice = await newVoter('alice');
  await shot(alice.page, '01-home');
  await makeCredential(alice, 'd1', 'p1');
  // Districts and precincts are chosen by name.
  assert.deepEqual(await alice.page.locator('#district option').allTextContents(), ['—', 'North District', 'South District']);
  await shot(alice.page, '02-credential');
  const boris = await newVoter('boris', { width: 360, lang: 'ru' });
  await makeCredential(boris, 'd1', 'p2');
  const carol = await newVoter('carol');
  await makeCredential(carol, 'd2', 'p3', false); // never approved
  // The recovery code moves a credential to another device.
  const { page } = alice;
  await page.goto(election.base + '/#/');
  await page.goto(election.base + '/#/vote');
  await page.getByText('Show the recovery code').click();
  const code = (await page.getByTestId('recovery-code').textContent()).trim();
  const aliceCredential = (await page.getByTestId('public-credential').textContent()).trim();
  const other = await browser.newContext();
  const p2 = await other.newPage();
  await p2.goto(election.base + '/#/vote');
  await p2.evaluate(() => localStorage.setItem('urna.lang', 'en'));
  await p2.reload();
  await p2.selectOption('#district', 'd1');
  await p2.getByText('Use a recovery code').click();
  await p2.fill('#recovery', 'ff'.repeat(32));
  await p2.getByRole('button', { name: 'Use this code' }).click();
  await p2.getByText('This is not a valid recovery code.').waitFor();
  await p2.fill('#recovery', code);
  await p2.getByRole('button', { name: 'Use this code' }).click();
  assert.equal((await p2.getByTestId('public-credential').textContent()).trim(), aliceCredential);
  // Removing the key is never one tap: a confirm step offers the recovery code first (13.7).
  await p2.goto(election.base + '/#/');
  await p2.goto(election.base + '/#/vote');
  await p2.getByTestId('forget').click();
  await p2.getByRole('heading', { level: 1, name: 'Remove the key from this device?' }).waitFor();
  assert.equal((await p2.getByTestId('forget-recovery').textContent()).trim(), code);
  await p2.getByRole('button', { name: 'No, keep the key' }).click();
  assert.equal((await p2.getByTestId('public-credential').textContent()).trim(), aliceCredential);
  await p2.getByTestId('forget').click();
  await p2.getByTestId('forget-confirm').click();
  await p2.getByTestId('new-credential').waitFor();
  assert.equal(await p2.evaluate(() => localStorage.getItem('urna.credential')), null);
  await other.close();
  // Before the open: the home page says when voting opens, in the voter's time zone, and no ballot is offered (13.5).
  await page.goto(election.base + '/#/');
  assert.equal(await page.getByTestId('election-now').getAttribute('data-now'), 'before');
  assert.equal((await page.getByTestId('election-title').textContent()).trim(), 'Test election');
  assert.match(await page.getByTestId('election-dates').textContent(), /^Voting: from .*20\d\d.* to .*\(your time\)\.$/);
  await toBallot(page);
  await page.getByTestId('ballot-closed').getByText('The ballot will be here when voting opens.', { exact: false }).waitFor();
  assert.equal(await page.locator('fieldset').count(), 0);
  await shot(page, '02b-ballot-before-open');
  const ru = voters.boris.page;
  await ru.goto(election.base + '/#/');
  await ru.getByTestId('election-now').waitFor();
  assert.match(await ru.getByTestId('election-now').textContent(), /^Голосование ещё не началось/);
  await noEnglish(ru, 'home ru');
  await noSideways(ru, 'home ru');
  await shot(ru, '01b-home-ru-360');
  await election.open();
});

test('vote → receipt → check the receipt', async () => {
  const { page } = voters.alice;
  await toBallot(page);
  // Names, not ids (13.1): the election, the district, contests, candidates with their party and biography lines.
  const ballotText = await page.locator('main').textContent();
  for (const s of ['Test election', 'District: North District', 'Do you approve the new park?', 'A park where the old market is.', 'City council: up to two candidates', 'Anna Ivanova', 'Gardens Party', 'born 1970, engineer', 'Bridges Party'])
    assert.ok(ballotText.includes(s), `${s} in ${ballotText}`);
  for (const id of ['cand-1', 'party-b', 'party-a', 'd1', 'question']) assert.ok(!ballotText.includes(id), `id ${id} shown: ${ballotText}`);
  await shot(page, '03-ballot');
  // min/max are enforced with a clear message.
  await page.getByRole('button', { name: 'Review my choices' }).click();
  await assert.doesNotReject(page.getByTestId('ballot-problems').getByText(/Too few: choose at least 1/).first().waitFor());
  await page.getByLabel('Anna Ivanova').check();
  await fillBallotD1(page);
  await page.getByRole('button', { name: 'Review my choices' }).click();
  await page.getByTestId('ballot-problems').getByText(/Too many: choose at most 2/).waitFor();
  await shot(page, '04-ballot-too-many');
  await page.getByLabel('Anna Ivanova').uncheck();
  await page.getByRole('button', { name: 'Review my choices' }).click();
  await page.getByRole('heading', { name: 'Review' }).waitFor();
  const review = await page.locator('main').textContent();
  for (const s of ['Yes', 'Boris Petrov', 'Grigory Orlov', 'Schools: 2', 'Bridges Party']) assert.ok(review.includes(s), `${s} in ${review}`);
  await shot(page, '05-review');
  await page.getByRole('button', { name: 'Encrypt the ballot' }).click();
  await page.getByTestId('pre-tracking').waitFor({ state: 'attached' });
  const ms = await page.getByTestId('encrypt-ms').getAttribute('data-ms');
  console.log(`# encrypt+prove the e2e ballot (4 contests, 11 options) in the page: ${ms} ms`);
  await shot(page, '06-encrypted');
  const pre = (await page.getByTestId('pre-tracking').textContent()).trim();
  await page.getByTestId('cast').click();
  await page.getByTestId('tracking').waitFor({ state: 'attached' });
  const tracking = (await page.getByTestId('tracking').textContent()).trim();
  assert.equal(tracking, pre);
  await page.getByTestId('receipt-verified').waitFor();
  assert.ok(await page.getByTestId('qr').isVisible());
  // A short, grouped, checksummed code a person can read aloud (13.4); the full code behind it.
  const short = (await page.getByTestId('short-code').textContent()).trim();
  assert.match(short, /^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$/);
  assert.equal(await page.getByTestId('tracking').isVisible(), false, 'the full code is behind a disclosure');
  await page.getByRole('button', { name: 'Print or save the receipt' }).waitFor();
  await shot(page, '07-receipt');
  await page.getByRole('link', { name: 'Check this receipt' }).click();
  await page.getByTestId('check-verdict').waitFor();
  assert.equal((await page.getByTestId('check-verdict').textContent()).trim(), 'Your ballot is in the public ballot box.');
  const steps = await noTickOnCaveat(page);
  // Cast and checked on this device: the seal was seen at the cast and the box only grew.
  assert.ok(steps.every((s) => s.status === 'ok'), JSON.stringify(steps));
  assert.match(await page.locator('ul.steps').textContent(), /The box has not been rewritten since this device last looked\./);
  assert.equal(await page.getByTestId('check-details').getAttribute('open'), null, 'technical detail only on request');
  assert.match(await page.getByTestId('check-details').textContent(), /inclusion proof \(\d+ hash(es)?\)/);
  await noSideways(page, 'check');
  await shot(page, '08-check');
  // The short code, typed in lower case with spaces, checks the same ballot.
  await page.fill('#tracking', short.toLowerCase().replace(/-/g, ' '));
  await page.getByRole('button', { name: 'Check', exact: true }).click();
  await page.getByTestId('check-verdict').getByText('Your ballot is in the public ballot box.').waitFor();
  // A mistyped short code is refused before anything is asked of the server.
  const typo = (short[0] === '7' ? '8' : '7') + short.slice(1);
  await page.fill('#tracking', typo);
  await page.getByRole('button', { name: 'Check', exact: true }).click();
  await page.getByTestId('check-verdict').getByText(/^This is not a receipt code\./).waitFor();
  // A tracking code that is not on the board.
  await page.fill('#tracking', 'ab'.repeat(32));
  await page.getByRole('button', { name: 'Check', exact: true }).click();
  await page.getByTestId('check-verdict').getByText('no ballot with this code is in the ballot box. (code unknown_tracking_code)', { exact: false }).waitFor();
  // The public ballot box lists the code (13.9).
  await page.goto(election.base + '/#/ballots');
  await page.getByTestId('box-list').getByRole('link', { name: short }).waitFor();
  await page.fill('#box-search', short.slice(0, 6));
  assert.deepEqual(await page.getByTestId('box-list').locator('ol.box li').allTextContents(), [short]);
  await shot(page, '08b-ballot-box');
  // A second tab fills in and encrypts a ballot now, while voting is open; it is cast after the close.
  const late = await voters.alice.context.newPage();
  await toBallot(late);
  await fillBallotD1(late);
  await late.getByRole('button', { name: 'Review my choices' }).click();
  await late.getByRole('button', { name: 'Encrypt the ballot' }).click();
  await late.getByTestId('cast').waitFor();
  voters.alice.late = late;
  voters.alice.tracking = tracking;
});

test('audit then cast (Benaloh), in Russian at 360 px', async () => {
  const { page } = voters.boris;
  await toBallot(page);
  await noSideways(page, 'ballot ru');
  await noEnglish(page, 'ballot ru');
  await shot(page, '09-ballot-ru-360');
  // order = "random": the council's options are a permutation of the manifest's.
  const council = await page.locator('fieldset[data-contest=council] .option label .name').allTextContents();
  assert.deepEqual([...council].sort(), ['Анна Иванова', 'Борис Петров', 'Вера Смирнова', 'Григорий Орлов']);
  assert.match(await page.locator('fieldset[data-contest=council] [data-testid=order-notice]').textContent(), /случайном порядке/);
  await page.getByLabel('Нет', { exact: true }).check();
  await page.getByLabel('Партия «Сады»', { exact: true }).check();
  await page.getByLabel('Вера Смирнова').check();
  await page.getByRole('button', { name: 'Проверить выбор' }).click();
  await noEnglish(page, 'review ru');
  await page.getByRole('button', { name: 'Зашифровать бюллетень' }).click();
  const audited = (await page.getByTestId('pre-tracking').textContent()).trim();
  const auditedShort = (await page.getByTestId('pre-short').textContent()).trim();
  await noEnglish(page, 'encrypted ru');
  await page.getByTestId('audit').click();
  await page.getByTestId('audit-ok').waitFor();
  // Audited is not cast (13.8).
  assert.match(await page.getByTestId('audit-not-cast').textContent(), /не будет учтён/);
  const shown = await page.getByTestId('audit-choices').textContent();
  for (const s of ['Нет', 'Партия «Сады»', 'Вера Смирнова']) assert.ok(shown.includes(s), `${s} in ${shown}`);
  await noSideways(page, 'audit ru');
  await noEnglish(page, 'audit ru');
  await shot(page, '10-audited-ru-360');
  await page.getByTestId('start-again').click();
  await page.getByRole('button', { name: 'Проверить выбор' }).click();
  await page.getByRole('button', { name: 'Зашифровать бюллетень' }).click();
  const fresh = (await page.getByTestId('pre-tracking').textContent()).trim();
  assert.notEqual(fresh, audited, 'a new encryption after an audit');
  await page.getByTestId('cast').click();
  await page.getByTestId('tracking').waitFor({ state: 'attached' });
  assert.equal((await page.getByTestId('tracking').textContent()).trim(), fresh);
  await noSideways(page, 'receipt ru');
  await noEnglish(page, 'receipt ru');
  await shot(page, '11-receipt-ru-360');
  await page.getByRole('link', { name: 'Проверить эту квитанцию' }).click();
  await page.getByTestId('check-verdict').getByText('Ваш бюллетень лежит в публичной урне.').waitFor();
  await noTickOnCaveat(page);
  await noSideways(page, 'check ru');
  await noEnglish(page, 'check ru');
  await shot(page, '11b-check-ru-360');
  // The audited ballot is in the box too, but says it does not count, and
  // shows its choices read from the board, on a second device (13.8).
  const second = await browser.newContext({ viewport: { width: 360, height: 800 }, locale: 'ru-RU' });
  const p2 = await second.newPage();
  await p2.goto(election.base + '/');
  await p2.evaluate(() => localStorage.setItem('urna.lang', 'ru'));
  await p2.goto(`${election.base}/#/check`);
  await p2.reload();
  await p2.fill('#tracking', auditedShort);
  await p2.getByRole('button', { name: 'Проверить', exact: true }).click();
  await p2.getByTestId('check-verdict').getByText('Этот бюллетень был вскрыт для проверки. Он не учитывается.').waitFor();
  assert.equal(await p2.getByTestId('check-verdict').getAttribute('data-kind'), 'audited_ballot');
  const fromBoard = await p2.getByTestId('audited-choices').textContent();
  for (const s of ['Нет', 'Партия «Сады»', 'Вера Смирнова']) assert.ok(fromBoard.includes(s), `${s} in ${fromBoard}`);
  // A device that never saw the box, and never saw its seal: both are caveats, never a ✓.
  const steps = await noTickOnCaveat(p2);
  assert.deepEqual(steps.map((s) => s.status), ['ok', 'caveat', 'caveat']);
  assert.notEqual(await p2.locator('[data-testid=check-verdict]').getAttribute('class'), 'ok big');
  await noSideways(p2, 'audited check ru');
  await noEnglish(p2, 'audited check ru');
  await shot(p2, '11c-audited-check-second-device-ru-360');
  await second.close();
  assert.notEqual(audited, fresh);
});

test('a voter who is not registered is told why (the server’s error)', async () => {
  const { page } = voters.carol;
  await toBallot(page);
  await page.getByLabel('Yes', { exact: true }).check();
  await page.getByLabel('Rivers Party', { exact: true }).check();
  await page.getByRole('button', { name: 'Review my choices' }).click();
  await page.getByRole('button', { name: 'Encrypt the ballot' }).click();
  await page.getByTestId('cast').click();
  await page.getByTestId('cast-error').getByText('this voting key is not registered for this election. Apply and log in first. (code unknown_credential)', { exact: false }).waitFor();
  await shot(page, '12-not-registered');
});

/** Presses Tab until the focused element matches `re` (by its label or text); returns false if never. */
async function tabTo(page, re, max = 60) {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    const name = await page.evaluate(() => {
      const el = document.activeElement;
      if (!el) return '';
      const label = el.id ? document.querySelector(`label[for="${el.id}"]`)?.textContent : '';
      return (label || el.getAttribute('aria-label') || el.textContent || '').trim();
    });
    if (re.test(name)) return true;
  }
  return false;
}

test('keyboard only: the whole ballot can be filled and encrypted without a mouse', async () => {
  const { page } = voters.carol;
  await page.goto(election.base + '/#/');
  await page.goto(election.base + '/#/vote');
  assert.ok(await tabTo(page, /^Continue to the ballot$/));
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { level: 1, name: 'Ballot' }).waitFor();
  assert.ok(await tabTo(page, /^Yes$/));
  await page.keyboard.press('Space');
  assert.ok(await tabTo(page, /^Roads$/));
  await page.keyboard.type('1');
  assert.ok(await tabTo(page, /^Gardens Party$/));
  await page.keyboard.press('ArrowDown'); // radio group: moves to and selects the next party
  assert.ok(await tabTo(page, /^Review my choices$/));
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Review' }).waitFor();
  const review = await page.locator('main').textContent();
  for (const s of ['Yes', 'Roads: 1', 'Bridges Party']) assert.ok(review.includes(s), `${s} in ${review}`);
  assert.ok(await tabTo(page, /^Encrypt the ballot$/));
  await page.keyboard.press('Enter');
  await page.getByTestId('pre-tracking').waitFor({ state: 'attached' });
});

test('encrypting and proving a 20-option ballot in headless Chromium (goal ≤ 150 ms)', async () => {
  const { page } = voters.alice;
  await page.goto(election.base + '/');
  const r = await page.evaluate(() => globalThis.urnaBench(20, 7));
  const fmt = (ms) => ms.map((x) => x.toFixed(0)).join(', ');
  const verdict = (m) => (m <= 150 ? 'meets' : 'MISSES');
  console.log(`# 20-option 1-of-20 ballot (${r.bytes} bytes) encrypted, proved and signed in headless Chromium:`);
  console.log(`#   fresh election key each run (a voter's one ballot): median ${r.medianCold.toFixed(1)} ms (${verdict(r.medianCold)} the 150 ms goal); runs ${fmt(r.cold)} ms`);
  console.log(`#   same key, table built: median ${r.medianWarm.toFixed(1)} ms (${verdict(r.medianWarm)} the 150 ms goal); runs ${fmt(r.warm)} ms`);
  // The goal is printed, not enforced: the machine is shared. Fail only when far off.
  assert.ok(r.medianCold < 1000, `median ${r.medianCold} ms`);
});

test('board explorer: signed checkpoint and an inclusion proof checked in the page', async () => {
  const { page } = voters.alice;
  await page.goto(election.base + '/#/board');
  await page.getByTestId('board-checkpoint').waitFor();
  // The receipt check remembered a checkpoint: the board must extend it.
  await page.getByTestId('board-consistency').getByText(/The board only grew since this device last saw it/).waitFor();
  await page.getByRole('button', { name: /Check inclusion of entry/ }).first().click();
  await page.getByTestId('board-result').getByText(/is included in the signed checkpoint/).waitFor();
  // Entry kinds in words.
  assert.ok((await page.locator('main table').textContent()).includes('ballot opened for checking'));
  await noSideways(page, 'board');
  await shot(page, '13-board');
});

test('turnout page', async () => {
  const { page } = voters.alice;
  await page.goto(election.base + '/#/turnout');
  await page.getByTestId('turnout-summary').getByText(/2 of 2 registered voters have voted/).waitFor();
  const text = await page.locator('main').textContent();
  for (const s of ['Central Region', 'North District', 'South District']) assert.ok(text.includes(s), `${s} in ${text}`);
  await shot(page, '13b-turnout');
});

test('a ballot after the close shows the server’s error; results are published', async () => {
  // Filled in and encrypted while open, cast after the close: the refusal is in the voter's words.
  const { page, late } = voters.alice;
  await election.close();
  await late.getByTestId('cast').click();
  await late.getByTestId('cast-error').getByText('voting is closed; ballots are no longer accepted. (code voting_closed)', { exact: false }).waitFor();
  await shot(late, '14-after-close');
  await late.close();
  // After the close no ballot is offered at all (13.5).
  await toBallot(page);
  await page.getByTestId('ballot-closed').getByText('Ballots are no longer accepted.').waitFor();
  assert.equal(await page.getByTestId('election-now').getAttribute('data-now'), 'closed');
  await page.goto(election.base + '/#/results');
  await page.getByTestId('results-status').waitFor();
  await election.results();
  await page.reload();
  await page.getByRole('heading', { level: 2 }).first().waitFor();
  const text = await page.locator('main').textContent();
  // Names, not ids; the overall result first, then by region and district (13.1).
  assert.ok(text.includes('Bridges Party') && text.includes('Gardens Party'), text);
  for (const id of ['party-b', 'cand-1', 'cand-2', 'question']) assert.ok(!text.includes(id), `id ${id} in ${text}`);
  const order = await page.locator('main section.result').evaluateAll((els) => els.map((e) => e.dataset.scope));
  assert.equal(order[0], 'total');
  assert.ok(order.lastIndexOf('total') < order.indexOf('region') && order.indexOf('region') < order.indexOf('district'), order.join());
  const first = await page.locator('[data-testid=results-total] section.result').first().textContent();
  assert.match(first, /^Do you approve the new park\?/);
  // The CSV download has every row, with names.
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('results-csv').click()]);
  assert.match(download.suggestedFilename(), /^results-e2e-2026-en\.csv$/);
  const csv = readFileSync(await download.path(), 'utf8');
  assert.match(csv.split('\n')[0], /^\ufeff?scope,area_id,area,contest_id,contest,option_id,option,votes,ballots/);
  assert.ok(csv.includes('total,,"Total",council,"City council: up to two candidates",cand-2,"Boris Petrov",1,'), csv);
  await noSideways(page, 'results');
  // The council contest is shown in a random order (order = "random"), but the
  // ballots stay in manifest order: alice chose candidates 2 and 4, boris 3.
  const { results } = await election.admin('GET', '/election/results');
  const council = results.find((r) => r.scope === 'total' && r.contest === 'council');
  assert.deepEqual(council.options, ['cand-1', 'cand-2', 'cand-3', 'cand-4']);
  assert.deepEqual(council.counts, [0, 1, 1, 1]);
  await shot(page, '15-results');
  // The same results in Russian at 320 px: Russian names, localized numbers, no sideways scroll.
  const ru = voters.boris.page;
  await ru.setViewportSize({ width: 320, height: 800 });
  await ru.goto(election.base + '/#/results');
  await ru.locator('[data-testid=results-total]').waitFor();
  const ruText = await ru.locator('main').textContent();
  for (const s of ['Одобряете ли вы новый парк?', 'Борис Петров', 'Партия «Мосты»', 'Центральный регион', 'Северный округ']) assert.ok(ruText.includes(s), `${s} in ${ruText}`);
  assert.match(ruText, /\d+,\d\s?%/, 'a Russian percentage has a decimal comma');
  await noSideways(ru, 'results ru 320');
  await noEnglish(ru, 'results ru 320');
  await shot(ru, '15b-results-ru-320');
  // The whole board, with the browser-made ballots and audits, passes the independent verifier.
  const v = election.verifyRecord();
  assert.equal(v.status, 0, v.report);
  console.log(`# urna verify on the exported record: exit ${v.status}`);
});

test('every page at 320 and 360 px without sideways scrolling, in both languages; Russian pages in Russian', async () => {
  const context = await browser.newContext({ viewport: { width: 320, height: 700 } });
  const page = await context.newPage();
  await page.goto(election.base + '/');
  const tracking = voters.alice.tracking;
  const routes = ['#/', '#/vote', `#/check/${tracking}`, '#/ballots', '#/turnout', '#/results', '#/board', '#/complaints'];
  let n = 0;
  for (const lang of ['ru', 'en'])
    for (const width of [320, 360]) {
      await page.setViewportSize({ width, height: 700 });
      await page.evaluate((l) => localStorage.setItem('urna.lang', l), lang);
      for (const r of routes) {
        await page.goto(`${election.base}/${r}`);
        await page.reload();
        await page.locator('main h1').first().waitFor();
        await page.waitForFunction(() => !document.querySelector('main')?.textContent?.includes('Загрузка') && !document.querySelector('main')?.textContent?.includes('Loading'));
        await noSideways(page, `${r} ${lang} ${width}`);
        if (lang === 'ru' && r !== '#/board') await noEnglish(page, `${r} ${width}`);
        n++;
      }
    }
  await shot(page, '16-complaints-en-360');
  await context.close();
  console.log(`# sideways-scroll check: ${n} page loads at 320 and 360 px, ru and en`);
});

test('no WCAG 2.1 A/AA violations found by axe-core on the pages screenshotted', () => {
  assert.ok(scans >= 10, `axe ran on ${scans} pages`);
  console.log(`# axe-core: ${scans} page states scanned, ${a11y.length} violations`);
  assert.deepEqual(a11y, []);
});

test('no request left the urna server; no script errors', () => {
  for (const [name, v] of Object.entries(voters)) {
    assert.deepEqual(v.foreign, [], `${name}: third-party requests`);
    const errs = v.errors.filter((e) => !/Failed to load resource/.test(e));
    assert.deepEqual(errs, [], `${name}: page errors`);
  }
});
