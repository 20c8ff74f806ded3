// Voter registration in headless Chromium against a real `urna serve
// --registration` (spec/registration.md §G9): apply → log in with the
// one-time code read from the development outbox → the device makes the
// credential and registers its public part → vote → receipt → check the
// receipt; voters who are not approved are told why, in English and in
// Russian. Screenshots go to web/screenshots/ (reg-*.png).
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

async function newPage({ lang = 'en', width = 1000 } = {}) {
  const context = await browser.newContext({ viewport: { width, height: 800 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(election.base + '/');
  await page.evaluate((l) => localStorage.setItem('urna.lang', l), lang);
  await page.goto(election.base + '/#/vote');
  await page.reload(); // the language is read at load
  page.errors = errors;
  return page;
}

async function apply(page, { name, birth, doc, phone }) {
  await page.fill('#reg-name', name);
  await page.fill('#reg-birth', birth);
  await page.fill('#reg-doc', doc);
  await page.fill('#reg-phone', phone);
  await page.locator('form button[type=submit]').first().click();
}

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const a11y = [];

/** A screenshot, and an axe-core scan (WCAG 2.1 A/AA rules) of the page as it is. */
async function shot(page, name) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  if (!(await page.evaluate(() => typeof globalThis.axe !== 'undefined'))) await page.evaluate(AXE);
  const r = await page.evaluate(() => globalThis.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }));
  for (const v of r.violations) a11y.push(`${name}: ${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')}`);
}

before(async () => {
  assert.ok(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM} (apt-get install -y chromium)`);
  election = await Election.start({ registration: true, registrationSeconds: Number(process.env.E2E_REGISTRATION_S ?? 180), votingSeconds: Number(process.env.E2E_VOTING_S ?? 120) });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
});

after(async () => {
  await browser?.close();
  election?.stop();
});

let alice;
/** The short receipt code of the ballot darya cast (spec/receipt-code.md). */
let daryaShort;

test('apply → one-time code from the outbox → the device registers its credential', async () => {
  const page = await newPage();
  alice = page;
  await page.getByRole('heading', { level: 1, name: 'Online voting: apply and log in' }).waitFor();
  await shot(page, 'reg-01-apply');
  await apply(page, { name: 'Alice Smith', birth: '1980-01-02', doc: '4508111111', phone: '+7 916 000-00-01' });
  await page.getByTestId('apply-result').getByText(/^Approved: you may vote online/).waitFor();
  // The login form was filled in from the application.
  assert.equal(await page.inputValue('#login-doc'), '4508111111');
  assert.equal(await page.locator('#login-code').isVisible(), false, 'the code field shows once a code was sent');
  await page.getByRole('button', { name: 'Send me a code' }).click();
  await page.getByTestId('login-result').getByText('A code was sent to +7916*****01. Enter it below.').waitFor();
  // A wrong code is refused with its reason.
  const code = election.codeFor('+79160000001');
  assert.match(code, /^\d{6}$/);
  await page.fill('#login-code', code === '000000' ? '000001' : '000000');
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByTestId('login-result').getByText('Refused: the code is wrong. (code otp_wrong_code)').waitFor();
  await page.fill('#login-code', code);
  await shot(page, 'reg-02-code');
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('heading', { level: 1, name: 'This device is registered' }).waitFor();
  await page.getByText('You vote in North District, Polling station 1.', { exact: false }).waitFor();
  const credential = (await page.getByTestId('public-credential').textContent()).trim();
  assert.match(credential, /^[0-9a-f]{64}$/);
  await shot(page, 'reg-03-registered');
  assert.deepEqual(page.errors, []);
});

test('a second device logs in with a one-time code and imports the recovery code', async () => {
  const recovery = (await alice.getByTestId('recovery-code').textContent()).trim();
  const credential = (await alice.getByTestId('public-credential').textContent()).trim();
  assert.match(recovery, /^[0-9a-f]{64}$/);
  const page = await newPage();
  await page.fill('#login-doc', '4508111111');
  await page.fill('#login-birth', '1980-01-02');
  await page.getByRole('button', { name: 'Send me a code' }).click();
  await page.locator('#login-code').waitFor();
  await page.fill('#login-code', election.codeFor('+79160000001'));
  await page.getByRole('button', { name: 'Log in' }).click();
  // The registry holds Alice's credential: no new one is made here.
  await page.getByRole('heading', { level: 2, name: 'Use your recovery code' }).waitFor();
  await page.fill('#reg-recovery', 'not a code');
  await page.getByRole('button', { name: 'Use this code' }).click();
  await page.getByTestId('import-result').getByText('This is not a valid recovery code.').waitFor();
  // A valid scalar (1), but not Alice's credential: the registry refuses it.
  await page.fill('#reg-recovery', '01' + '00'.repeat(31));
  await page.getByRole('button', { name: 'Use this code' }).click();
  await page.getByTestId('import-result').getByText('This recovery code is not the credential registered for you. Check the code on your other device.').waitFor();
  await shot(page, 'reg-03b-import-refused');
  await page.fill('#reg-recovery', recovery.toUpperCase());
  await page.getByRole('button', { name: 'Use this code' }).click();
  await page.getByRole('heading', { level: 1, name: 'This device is registered' }).waitFor();
  assert.equal((await page.getByTestId('public-credential').textContent()).trim(), credential);
  assert.equal(await page.evaluate(() => localStorage.getItem('urna.pendingCredential')), null);
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('voters who are not approved are told why (en and ru)', async () => {
  const page = await newPage();
  await apply(page, { name: 'Nobody Known', birth: '1980-01-02', doc: '9999999999', phone: '+79160000009' });
  await page.getByTestId('apply-result').getByText('Refused: no voter with this identity document is in the registry. (code not_in_registry)').waitFor();
  await apply(page, { name: 'Alice Smyth', birth: '1980-01-02', doc: '4508111111', phone: '+79160000001' });
  await page.getByTestId('apply-result').getByText(/code personal_data_mismatch\)$|^You are already approved for online voting\./).waitFor();
  await apply(page, { name: 'Carol Late', birth: '1990-05-06', doc: '4508 333333', phone: '+79160000003' });
  await page.getByTestId('apply-result').getByText('Refused: your portal account was created after the cutoff date for this vote. (code account_created_after_cutoff)').waitFor();
  await shot(page, 'reg-04-refused');
  // Not approved: no code is sent.
  await page.fill('#login-doc', '4508333333');
  await page.fill('#login-birth', '1990-05-06');
  await page.getByRole('button', { name: 'Send me a code' }).click();
  await page.getByTestId('login-result').getByText('Refused: there is no approved application for this document and date of birth. (code not_approved)').waitFor();

  const ru = await newPage({ lang: 'ru', width: 360 });
  await ru.getByRole('heading', { level: 1, name: 'Электронное голосование: заявление и вход' }).waitFor();
  await apply(ru, { name: 'Борис Иванович', birth: '1975-03-04', doc: '4508222222', phone: '+79160000002' });
  await ru.getByTestId('apply-result').getByText('Отказ: ФИО или дата рождения не совпадают с реестром избирателей. (код personal_data_mismatch)').waitFor();
  const width = await ru.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 360, `no horizontal scrolling at 360 px (scrollWidth ${width})`);
  await shot(ru, 'reg-05-refused-ru-360');
});

let boris;

test('withdrawal in Russian at 360 px: a confirm step, then the server\'s answer', async () => {
  const page = await newPage({ lang: 'ru', width: 360 });
  boris = page;
  await apply(page, { name: 'Борис Иванов', birth: '1975-03-04', doc: '4508222222', phone: '+79160000002' });
  await page.getByTestId('apply-result').getByText(/^Заявление одобрено/).waitFor();
  await page.getByRole('button', { name: 'Прислать код' }).click();
  await page.locator('#login-code').waitFor();
  await page.fill('#login-code', election.codeFor('+79160000002'));
  await page.getByRole('button', { name: 'Войти' }).click();
  await page.getByRole('heading', { level: 1, name: 'Устройство зарегистрировано' }).waitFor();
  await page.getByRole('link', { name: 'Отозвать заявление на электронное голосование' }).click();
  await page.getByRole('heading', { level: 1, name: 'Отзыв заявления на электронное голосование' }).waitFor();
  assert.equal(await page.getByTestId('withdraw-state').getAttribute('data-state'), 'approved');
  await page.getByText('Ваше заявление одобрено: Северный округ, Участок №2.').waitFor();
  await shot(page, 'reg-08-withdraw-ru-360');
  // Keyboard only: the button, then the confirm step takes the focus.
  await page.getByTestId('withdraw').focus();
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { level: 2, name: 'Отозвать заявление?' }).waitFor();
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Отозвать заявление?');
  // Cancel keeps the application.
  await page.getByRole('button', { name: 'Нет, оставить' }).click();
  assert.equal(await page.getByTestId('withdraw-confirm').count(), 0);
  await page.getByTestId('withdraw').click();
  await shot(page, 'reg-09-withdraw-confirm-ru-360');
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 360, `no horizontal scrolling at 360 px (scrollWidth ${width})`);
  await page.getByTestId('withdraw-confirm').click();
  await page.getByRole('heading', { level: 1, name: 'Заявление отозвано' }).waitFor();
  assert.equal(await page.getByTestId('withdraw-state').getAttribute('data-state'), 'withdrawn');
  await shot(page, 'reg-10-withdrawn-ru-360');
  // The session now has no application: the page says so with the server's code.
  await page.reload();
  await page.getByTestId('withdraw-state').getByText('(код not_approved)', { exact: false }).waitFor();
  assert.deepEqual(page.errors, []);
});

let darya;

/** The visible text of <main> outside codes and technical details has no Latin word (error codes and zone names aside). */
async function noEnglish(page, what) {
  const text = await page.evaluate(() => {
    const m = document.querySelector('main').cloneNode(true);
    m.querySelectorAll('details, code, .code, select').forEach((e) => e.remove());
    return m.textContent;
  });
  const words = (text.replace(/\(код [a-z_]+\)/g, '').replace(/[0-9A-Z]{4}(-[0-9A-Z]{4}){3}/g, '').match(/[A-Za-z]{3,}/g) ?? []).filter((w) => !['urna', 'GMT', 'UTC', 'SMS'].includes(w));
  assert.deepEqual(words, [], `${what}: English words on a Russian page: ${text}`);
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 360, `${what}: no horizontal scrolling at 360 px (scrollWidth ${width})`);
}

test('a 75-year-old voter in Moscow, in Russian at 360 px: apply, apply again, log in', async () => {
  const context = await browser.newContext({ viewport: { width: 360, height: 800 }, locale: 'ru-RU', timezoneId: 'Europe/Moscow' });
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(String(e)));
  await page.goto(election.base + '/');
  await page.evaluate(() => localStorage.setItem('urna.lang', 'ru'));
  await page.reload();
  // Home: the title, the dates in her time zone, and what she can do now.
  await page.getByTestId('election-now').waitFor();
  assert.equal((await page.getByTestId('election-title').textContent()).trim(), 'Проверочные выборы');
  assert.match(await page.getByTestId('election-dates').textContent(), /^Голосование: с .* 20\d\d г\. в .* GMT\+3 до /);
  assert.match(await page.getByTestId('election-now').textContent(), /^Голосование ещё не началось/);
  await noEnglish(page, 'home');
  await shot(page, 'reg-13-home-ru-360');
  await page.goto(election.base + '/#/vote');
  await apply(page, { name: 'Дарья Смирнова', birth: '1949-07-08', doc: '4508 444444', phone: '+79160000004' });
  await page.getByTestId('apply-result').getByText(/^Заявление одобрено/).waitFor();
  // Pressing "Apply" again is not a red refusal: it says what to do next (13.7).
  await page.locator('form button[type=submit]').first().click();
  await page.getByTestId('already-applied').getByText('Ваше заявление на онлайн-голосование уже одобрено. Дальше: войдите ниже с одноразовым кодом.').waitFor();
  assert.equal(await page.getByTestId('apply-result').locator('.error').count(), 0);
  await noEnglish(page, 'apply');
  await shot(page, 'reg-14-already-approved-ru-360');
  await page.fill('#login-doc', '4508 444444');
  await page.fill('#login-birth', '1949-07-08');
  await page.getByRole('button', { name: 'Прислать код' }).click();
  await page.locator('#login-code').waitFor();
  await page.fill('#login-code', election.codeFor('+79160000004'));
  await page.getByRole('button', { name: 'Войти' }).click();
  await page.getByRole('heading', { level: 1, name: 'Устройство зарегистрировано' }).waitFor();
  await page.getByText('Вы голосуете: Северный округ, Участок №1.', { exact: false }).waitFor();
  await noEnglish(page, 'registered');
  // Before the open the ballot is not offered.
  await page.getByRole('button', { name: 'Перейти к бюллетеню' }).click();
  await page.getByTestId('ballot-closed').getByText(/^Бюллетень появится здесь, когда откроется голосование/).waitFor();
  await noEnglish(page, 'ballot before open');
  await shot(page, 'reg-15-ballot-not-yet-ru-360');
  darya = page;
});

test('the registered voter votes; the receipt checks', async () => {
  await election.open();
  const page = alice;
  await page.goto(election.base + '/#/');
  await page.goto(election.base + '/#/vote');
  await page.getByRole('button', { name: 'Continue to the ballot' }).click();
  await page.getByRole('heading', { level: 1, name: 'Ballot' }).waitFor();
  // The council contest says order = "random": each load shows a permutation
  // of its options (record.md §R2.4); the other contests keep the manifest's order.
  const council = () => page.locator('fieldset[data-contest=council] .option label .name').allTextContents();
  const manifestOrder = ['Anna Ivanova', 'Boris Petrov', 'Grigory Orlov', 'Vera Smirnova'];
  const orders = new Set();
  for (let load = 0; load < 6; load++) {
    if (load > 0) {
      await page.reload();
      await page.getByRole('button', { name: 'Continue to the ballot' }).click();
      await page.getByRole('heading', { level: 1, name: 'Ballot' }).waitFor();
    }
    const shown = await council();
    assert.deepEqual([...shown].sort(), manifestOrder);
    orders.add(shown.join('|'));
    assert.deepEqual(await page.locator('fieldset[data-contest=list] .option label .name').allTextContents(), ['Gardens Party', 'Bridges Party', 'Rivers Party']);
  }
  assert.ok(orders.size > 1, `the council options were shown in one order on 6 loads: ${[...orders]}`);
  // The shuffled contest says so above its options, and its fieldset points
  // screen readers at the notice; contests in manifest order say nothing.
  const notice = page.locator('fieldset[data-contest=council] [data-testid=order-notice]');
  assert.match(await notice.textContent(), /random order/);
  const noticeId = await notice.getAttribute('id');
  assert.ok((await page.locator('fieldset[data-contest=council]').getAttribute('aria-describedby')).split(' ').includes(noticeId));
  assert.equal(await page.locator('[data-testid=order-notice]').count(), 1);
  const shownNow = await council();
  await page.getByLabel('Yes', { exact: true }).check();
  await page.getByLabel('Boris Petrov').check();
  await page.getByLabel('Grigory Orlov').check();
  await page.getByLabel('Bridges Party', { exact: true }).check();
  await page.getByRole('button', { name: 'Review my choices' }).click();
  // The review lists the council choices in the order they were shown.
  const reviewed = await page.locator('dl.review dd[data-contest=council] li').allTextContents();
  assert.deepEqual(reviewed, shownNow.filter((n) => /Boris Petrov|Grigory Orlov/.test(n)));
  await page.getByRole('button', { name: 'Encrypt the ballot' }).click();
  await page.getByTestId('pre-tracking').waitFor({ state: 'attached' });
  const pre = (await page.getByTestId('pre-tracking').textContent()).trim();
  await page.getByTestId('cast').click();
  await page.getByTestId('tracking').waitFor({ state: 'attached' });
  assert.equal((await page.getByTestId('tracking').textContent()).trim(), pre);
  await page.getByTestId('receipt-verified').waitFor();
  await shot(page, 'reg-06-receipt');
  await page.getByRole('link', { name: 'Check this receipt' }).click();
  await page.getByTestId('check-verdict').waitFor();
  assert.equal((await page.getByTestId('check-verdict').textContent()).trim(), 'Your ballot is in the public ballot box.');
  assert.deepEqual(page.errors, []);
});

test('she votes, audits, casts and checks, all in Russian at 360 px', async () => {
  const page = darya;
  await page.goto(election.base + '/#/');
  await page.getByTestId('election-now').getByText(/^Голосование идёт, до /).waitFor();
  await page.goto(election.base + '/#/vote');
  await page.getByRole('button', { name: 'Перейти к бюллетеню' }).click();
  await page.getByRole('heading', { level: 1, name: 'Бюллетень' }).waitFor();
  await page.locator('fieldset').first().waitFor();
  const ballot = await page.locator('main').textContent();
  for (const s of ['Проверочные выборы', 'Округ: Северный округ', 'Одобряете ли вы новый парк?', 'Парк на месте старого рынка.', 'Анна Иванова', 'Партия «Сады»', '1970 г. р., инженер']) assert.ok(ballot.includes(s), `${s} in ${ballot}`);
  await noEnglish(page, 'ballot');
  await page.getByLabel('Да', { exact: true }).check();
  await page.getByLabel('Анна Иванова').check();
  await page.getByLabel('Партия «Реки»', { exact: true }).check();
  await page.getByRole('button', { name: 'Проверить выбор' }).click();
  await noEnglish(page, 'review');
  await page.getByRole('button', { name: 'Зашифровать бюллетень' }).click();
  await page.getByTestId('audit').click();
  await page.getByTestId('audit-not-cast').waitFor();
  await noEnglish(page, 'audit');
  await page.getByTestId('start-again').click();
  await page.getByRole('button', { name: 'Проверить выбор' }).click();
  await page.getByRole('button', { name: 'Зашифровать бюллетень' }).click();
  await page.getByTestId('cast').click();
  daryaShort = (await page.getByTestId('short-code').textContent()).trim();
  await noEnglish(page, 'receipt');
  // Opt-in: the receipt code by SMS to her own phone, in Russian, nothing
  // of the ballot in it (registration.md §G6.1); she has no e-mail.
  await page.getByTestId('receipt-sms').click();
  await page.getByTestId('receipt-sent').getByText('Отправлено: +7916*****04.').waitFor();
  const sms = readFileSync(election.outbox, 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((m) => m.to === '+79160000004').pop();
  assert.match(sms.text, /^Ваш бюллетень принят: «/);
  assert.ok(sms.text.includes(`Код квитанции: ${daryaShort}.`), sms.text);
  await page.getByTestId('receipt-email').click();
  await page.getByTestId('receipt-sent').getByText('В вашем заявлении нет адреса электронной почты.', { exact: false }).waitFor();
  await noEnglish(page, 'receipt sent');
  await shot(page, 'reg-16-receipt-ru-360');
  await page.getByRole('link', { name: 'Проверить эту квитанцию' }).click();
  await page.getByTestId('check-verdict').getByText('Ваш бюллетень лежит в публичной урне.').waitFor();
  const marks = await page.locator('ul.steps li').evaluateAll((els) => els.map((e) => [e.dataset.status, e.querySelector('.mark')?.textContent]));
  for (const [status, mark] of marks) assert.equal(mark === '✓', status === 'ok');
  await noEnglish(page, 'check');
  await shot(page, 'reg-17-check-ru-360');
  assert.deepEqual(page.errors, []);
});

test('complaints: filed without identity, answered by the commission, listed publicly', async () => {
  const page = alice;
  const tracking = (await page.evaluate(() => location.hash)).split('/')[2];
  assert.match(tracking, /^[0-9a-f]{64}$/);
  await page.goto(election.base + '/#/complaints');
  await page.getByRole('heading', { level: 1, name: 'Complaints' }).waitFor();
  await page.getByText('No complaints yet.').waitFor();
  await page.fill('#c-tracking', 'xyz');
  await page.fill('#c-text', 'My receipt page was slow.');
  await page.getByRole('button', { name: 'File the complaint' }).click();
  await page.getByTestId('complaint-result').getByText('This is not a receipt code.', { exact: false }).waitFor();
  // Another voter's short code, typed in lower case without dashes: this
  // device has no such receipt, so the ballot box resolves it to the
  // full tracking code (receipt-code.md).
  assert.match(daryaShort, /^[0-9A-Z]{4}(-[0-9A-Z]{4}){3}$/);
  await page.fill('#c-tracking', daryaShort.replace(/-/g, '').toLowerCase());
  await page.getByRole('button', { name: 'File the complaint' }).click();
  await page.getByTestId('complaint-result').getByText('Your complaint was filed as number 1.', { exact: false }).waitFor();
  await page.getByTestId('complaints').getByText('No. 1, from a voter: awaiting an answer').waitFor();
  const about = page.getByTestId('complaints').locator('a[href^="#/check/"]');
  assert.equal(await about.textContent(), daryaShort);
  assert.match(await about.getAttribute('href'), /^#\/check\/[0-9a-f]{64}$/);
  assert.notEqual(await about.getAttribute('href'), `#/check/${tracking}`);
  await election.admin('POST', '/registration/complaints/1/answer', { answer: 'Thank you; the board was busy for a minute.' });
  await page.reload();
  await page.getByTestId('complaints').getByText('No. 1, from a voter: answered').waitFor();
  await page.getByTestId('complaints').getByText('Thank you; the board was busy for a minute.').waitFor();
  await shot(page, 'reg-07-complaints');
});

test('the withdrawn voter tries to vote: the server refuses the ballot with the reason', async () => {
  const page = boris;
  await page.evaluate(() => localStorage.setItem('urna.lang', 'en'));
  await page.goto(election.base + '/#/vote');
  await page.reload();
  await page.getByRole('button', { name: 'Continue to the ballot' }).click();
  await page.getByRole('heading', { level: 1, name: 'Ballot' }).waitFor();
  await page.getByLabel('Yes', { exact: true }).check();
  await page.getByLabel('Gardens Party', { exact: true }).check();
  await page.getByRole('button', { name: 'Review my choices' }).click();
  await page.getByRole('button', { name: 'Encrypt the ballot' }).click();
  await page.getByTestId('cast').click();
  await page.getByTestId('cast-error').getByText('Refused: your application for online voting was withdrawn; vote at your polling station. (code application_withdrawn)').waitFor();
  await shot(page, 'reg-11-withdrawn-cast-refused');
  assert.equal(await page.getByTestId('tracking').count(), 0);
  assert.deepEqual(page.errors, []);
});

test('after a cast ballot the withdrawal is refused with the reason', async () => {
  const page = alice;
  await page.goto(election.base + '/#/withdraw');
  await page.getByRole('heading', { level: 1, name: 'Withdraw the application for online voting' }).waitFor();
  assert.equal(await page.getByTestId('withdraw-state').getAttribute('data-state'), 'approved');
  await page.getByTestId('withdraw').click();
  await page.getByTestId('withdraw-confirm').click();
  await page.getByTestId('withdraw-refused').getByText('Refused: a ballot from your credential is on the board, so the application can no longer be withdrawn. (code ballot_already_cast)').waitFor();
  await shot(page, 'reg-12-withdraw-refused');
  // Still approved: nothing changed.
  await page.reload();
  assert.equal(await page.getByTestId('withdraw-state').getAttribute('data-state'), 'approved');
  assert.deepEqual(page.errors, []);
});

test('no WCAG 2.1 A/AA violations on the registration pages (axe-core)', () => {
  assert.deepEqual(a11y, []);
});
