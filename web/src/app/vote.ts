// The voter's path: login seam → ballot → review → encrypt → cast or
// audit (Benaloh) → receipt, or the opened ballot and start again.
import * as U from '../crypto/index.js';
import { ApiError, StyleJson, api } from './api.js';
import { clear, focusHeading, h } from './dom.js';
import { dateTime, num, t } from './i18n.js';
import { Names } from './names.js';
import { electionBanner, electionNow } from './pages.js';
import { shortCode } from './receiptcode.js';
import { checkAgainstSeen } from './seen.js';
import { VoterSession, loginProvider } from './login.js';
import { errorText, qrImage, saveReceipt } from './receipts.js';
import { refusal, registrationApi, registrationEnabled, sessionToken } from './registration.js';

interface Ctx {
  root: HTMLElement;
  session: VoterSession;
  style: StyleJson;
  election: U.Election;
  header: Uint8Array;
  shapes: U.ContestShape[];
  selections: number[][];
  /** Per contest, the manifest indices of its options in screen order (record.md §R2.4). */
  screen: number[][];
  names: Names;
}

/** A uniform random integer in [0, n) from crypto.getRandomValues (rejection sampling, no modulo bias). */
function randomBelow(n: number): number {
  const limit = Math.floor(0x1_0000_0000 / n) * n;
  const buf = new Uint32Array(1);
  for (;;) {
    crypto.getRandomValues(buf);
    if (buf[0] < limit) return buf[0] % n;
  }
}

/** 0..n-1 in a uniformly random order (Fisher–Yates). */
export function randomOrder(n: number): number[] {
  const a = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = randomBelow(i + 1);
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

export async function votePage(root: HTMLElement): Promise<void> {
  // With voter registration on the server, voters apply and log in with a one-time code.
  const provider = loginProvider((await registrationEnabled()) ? 'otp' : 'device');
  await provider.render(root, (session) => void startBallot(root, session));
}

async function startBallot(root: HTMLElement, session: VoterSession): Promise<void> {
  clear(root, h('h1', {}, t('ballot.heading')), h('p', {}, t('common.loading')));
  try {
    // The ballot is offered only while voting is open (issue 13.5): before
    // and after, the voter sees when, and what can be done now.
    const { names, now } = await electionNow();
    if (now !== 'voting') {
      clear(root, h('h1', {}, t('ballot.heading')), electionBanner(names, now), h('p', { 'data-testid': 'ballot-closed' }, now === 'before' ? t('ballot.notYet') : t('ballot.over')));
      focusHeading(root);
      return;
    }
    const style = await api.style(session.district);
    const key = U.checkPublicKey(U.decodeElement(U.fromHex(style.joint_key, 32), false));
    // Check what the server says against what it must be (crypto.md §3.5, record.md §R6.1).
    const fp = U.fingerprintElection(U.fromHex(style.manifest_hash, 32), key);
    if (U.toHex(fp) !== style.fingerprint) U.fail('fingerprint', 'the election fingerprint does not match the key and manifest');
    const header = U.fromHex(style.header);
    if (U.toHex(U.ballotHeader(style.election, style.district)) !== style.header) U.fail('header', 'unexpected ballot header');
    const shapes = style.contests.map((c) => c.shape);
    shapes.forEach(U.checkShape);
    // Display only: selections and ciphertexts stay in manifest order.
    const screen = style.contests.map((c) => (c.order === 'random' ? randomOrder(c.options.length) : c.options.map((_o, i) => i)));
    const ctx: Ctx = { root, session, style, election: { key, fingerprint: fp }, header, shapes, selections: shapes.map((s) => new Array(s.options).fill(0)), screen, names };
    renderBallot(ctx);
  } catch (e) {
    clear(root, h('h1', {}, t('ballot.heading')), h('p', { class: 'error', role: 'alert' }, errorText(e)));
  }
}

function rule(s: U.ContestShape): string {
  if (s.option_max > 1) return t('ballot.pointsRange', { min: s.min, max: s.max, omax: s.option_max });
  if (s.min === s.max) return t('ballot.chooseExactly', { n: s.min });
  if (s.min === 0) return t('ballot.chooseUpTo', { max: s.max });
  return t('ballot.chooseRange', { min: s.min, max: s.max });
}

function contestProblem(ctx: Ctx, ci: number): string | null {
  const s = ctx.shapes[ci];
  const sum = ctx.selections[ci].reduce((a, v) => a + v, 0);
  const c = ctx.style.contests[ci];
  const contest = ctx.names.contest(c.id, c.title);
  if (sum < s.min) return t('ballot.tooFew', { min: s.min, contest });
  if (sum > s.max) return t('ballot.tooMany', { max: s.max, contest });
  return null;
}

function renderBallot(ctx: Ctx): void {
  const { root, style } = ctx;
  const problems = h('div', { class: 'error', role: 'alert', 'aria-live': 'assertive', 'data-testid': 'ballot-problems' });
  const fieldsets = style.contests.map((c, ci) => {
    const s = ctx.shapes[ci];
    const counter = h('p', { class: 'counter', 'aria-live': 'polite', id: `count-${ci}` });
    const update = () => {
      counter.textContent = t('ballot.selected', { n: ctx.selections[ci].reduce((a, v) => a + v, 0) });
    };
    update();
    const single = s.option_max === 1 && s.max === 1 && s.min === 1;
    const inputs = ctx.screen[ci].map((oi) => {
      const o = c.options[oi];
      const id = `c${ci}-o${oi}`;
      let input: HTMLInputElement;
      if (s.option_max > 1) {
        input = h('input', { type: 'number', id, min: 0, max: s.option_max, step: 1, value: ctx.selections[ci][oi], inputmode: 'numeric' }) as HTMLInputElement;
        input.addEventListener('input', () => {
          const v = Math.max(0, Math.min(s.option_max, Math.floor(Number(input.value) || 0)));
          ctx.selections[ci][oi] = v;
          update();
        });
      } else {
        input = h('input', { type: single ? 'radio' : 'checkbox', id, name: `contest-${ci}`, value: o.id }) as HTMLInputElement;
        input.checked = ctx.selections[ci][oi] === 1;
        input.addEventListener('change', () => {
          if (single) ctx.selections[ci].fill(0);
          ctx.selections[ci][oi] = input.checked ? 1 : 0;
          update();
        });
      }
      const lines = ctx.names.optionLines(c.id, o.id);
      return h('div', { class: 'option' }, input, h('label', { for: id }, h('span', { class: 'name' }, ctx.names.option(c.id, o.id, o.name)), lines.map((l) => [' ', h('span', { class: 'line' }, l)]).flat()));
    });
    // A shuffled contest says so above its options, and the fieldset points
    // screen readers at the notice (record.md §R2.4: display order only).
    const shuffled = c.order === 'random';
    return h('fieldset', { 'aria-describedby': `${shuffled ? `order-${ci} ` : ''}rule-${ci} count-${ci}`, 'data-contest': c.id },
      h('legend', {}, ctx.names.contest(c.id, c.title)),
      ctx.names.contestDescription(c.id) && h('p', { class: 'description' }, ctx.names.contestDescription(c.id)),
      shuffled && h('p', { class: 'notice', id: `order-${ci}`, 'data-testid': 'order-notice' }, t('ballot.shuffled')),
      h('p', { class: 'rule', id: `rule-${ci}` }, rule(s)),
      inputs,
      counter,
    );
  });
  clear(
    root,
    h('h1', {}, t('ballot.heading')),
    h('p', { class: 'big' }, ctx.names.title()),
    h('p', { 'data-testid': 'ballot-district' }, t('ballot.district', { district: ctx.names.district(style.district) })),
    h('form', { novalidate: true, onsubmit: (e: Event) => {
      e.preventDefault();
      const p = ctx.style.contests.map((_c, ci) => contestProblem(ctx, ci)).filter((x): x is string => !!x);
      if (p.length) {
        clear(problems, h('ul', {}, p.map((x) => h('li', {}, x))));
        problems.focus();
        return;
      }
      renderReview(ctx);
    } },
      fieldsets,
      problems,
      h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, t('ballot.review'))),
    ),
  );
  problems.tabIndex = -1;
  focusHeading(root);
}

function choicesList(ctx: Ctx, selections: number[][]): HTMLElement {
  return h('dl', { class: 'review' },
    ctx.style.contests.map((c, ci) => {
      const chosen = ctx.screen[ci].map((oi) => ({ o: c.options[oi], v: selections[ci][oi] })).filter((x) => x.v > 0);
      // In the order the voter saw them, which for a shuffled contest is this load's permutation.
      return [
        h('dt', {}, ctx.names.contest(c.id, c.title)),
        h('dd', { 'data-contest': c.id }, chosen.length ? h('ul', {}, chosen.map(({ o, v }) => h('li', {}, ctx.shapes[ci].option_max > 1 ? `${ctx.names.option(c.id, o.id, o.name)}: ${num(v)}` : ctx.names.option(c.id, o.id, o.name)))) : t('ballot.none')),
      ];
    }).flat(),
  );
}

function renderReview(ctx: Ctx): void {
  clear(
    ctx.root,
    h('h1', {}, t('review.heading')),
    h('p', {}, t('review.text')),
    choicesList(ctx, ctx.selections),
    h('div', { class: 'actions' },
      h('button', { type: 'button', onclick: () => renderBallot(ctx) }, t('review.change')),
      h('button', { type: 'button', class: 'primary', onclick: () => void encryptStep(ctx) }, t('review.encrypt')),
    ),
  );
  focusHeading(ctx.root);
}

const nextFrame = () => new Promise<void>((r) => requestAnimationFrame(() => setTimeout(r, 0)));

async function encryptStep(ctx: Ctx): Promise<void> {
  const status = h('p', { role: 'status', 'aria-live': 'polite' }, t('encrypt.working'));
  const bar = h('progress', { 'aria-label': t('encrypt.working') });
  clear(ctx.root, h('h1', {}, t('encrypt.heading')), status, bar);
  focusHeading(ctx.root);
  await nextFrame();
  const t0 = performance.now();
  let enc: U.EncryptedBallot;
  try {
    enc = U.encryptBallot(ctx.election, ctx.session.credentialSecret, ctx.header, ctx.shapes, ctx.selections);
  } catch (e) {
    clear(ctx.root, h('h1', {}, t('encrypt.heading')), h('p', { class: 'error', role: 'alert' }, errorText(e)));
    return;
  }
  const ms = Math.round(performance.now() - t0);
  const msg = h('p', { class: 'error', role: 'alert', 'aria-live': 'assertive', 'data-testid': 'cast-error' });
  const buttons = h('div', { class: 'actions' },
    h('button', { type: 'button', class: 'primary', 'data-testid': 'cast', onclick: () => void send(ctx, enc, 'cast', msg, buttons) }, t('encrypt.cast')),
    h('button', { type: 'button', 'data-testid': 'audit', onclick: () => void send(ctx, enc, 'audit', msg, buttons) }, t('encrypt.audit')),
  );
  clear(
    ctx.root,
    h('h1', {}, t('encrypt.heading')),
    h('p', { 'data-testid': 'encrypt-ms', 'data-ms': ms }, t('encrypt.done')),
    h('p', { class: 'code big', 'data-testid': 'pre-short' }, shortCode(U.toHex(enc.tracking))),
    fullCode(U.toHex(enc.tracking), 'pre-tracking'),
    h('p', {}, t('encrypt.choice')),
    buttons,
    msg,
  );
  focusHeading(ctx.root);
}

async function send(ctx: Ctx, enc: U.EncryptedBallot, what: 'cast' | 'audit', msg: HTMLElement, buttons: HTMLElement): Promise<void> {
  buttons.querySelectorAll('button').forEach((b) => ((b as HTMLButtonElement).disabled = true));
  msg.textContent = t('encrypt.casting');
  try {
    const config = await api.config();
    const key = U.parseVerifierKey(config.board_key);
    if (what === 'cast') {
      const r = await api.cast(U.toHex(enc.bytes));
      if (r.tracking !== U.toHex(enc.tracking)) U.fail('bad_receipt', 'the receipt is for another ballot');
      const check = U.verifyReceipt(r, key, U.envelope(U.KIND_BALLOT, enc.bytes));
      // Remember the box as it is now: later checks prove it only grew.
      await checkAgainstSeen(check.checkpoint);
      renderReceipt(ctx, saveReceipt(r, config.board_key), check);
    } else {
      const payload = U.encodeAuditPayload(enc.bytes, enc.selections, enc.nonces);
      const r = await api.audit(U.toHex(payload));
      const check = U.verifyReceipt(r, key, U.envelope(U.KIND_AUDITED_BALLOT, payload));
      saveReceipt(r, config.board_key);
      renderAudit(ctx, enc, payload, check);
    }
  } catch (e) {
    // A refusal the registry explains (a withdrawn application) reads as a sentence in the voter's language.
    const explained = e instanceof ApiError && e.status !== 0 && t(`reg.reason.${e.code}`) !== `reg.reason.${e.code}`;
    msg.textContent = explained ? refusal((e as ApiError).code, (e as ApiError).message) : errorText(e);
    buttons.querySelectorAll('button').forEach((b) => ((b as HTMLButtonElement).disabled = false));
    msg.focus();
  }
}

/** The full tracking code, behind a disclosure (the short code is what a person reads). */
function fullCode(hex: string, testid: string): HTMLElement {
  return h('details', { class: 'full-code' }, h('summary', {}, t('receipt.full')), h('code', { class: 'hex tracking', 'data-testid': testid }, hex));
}

/**
 * Opt-in: the receipt code by SMS or e-mail to the voter's own phone or
 * address (registration.md §G6.1), when the voter logged in with a
 * one-time code on this device. Nothing of the ballot goes in the message.
 */
function sendReceiptOffer(tracking: string): HTMLElement | null {
  const token = sessionToken();
  if (!token) return null;
  const out = h('p', { role: 'status', 'aria-live': 'polite', 'data-testid': 'receipt-sent' });
  const send = (channel: 'sms' | 'email') => async (e: Event) => {
    const b = e.currentTarget as HTMLButtonElement;
    b.disabled = true;
    try {
      const r = await registrationApi.receipt(token, tracking, channel);
      out.className = 'ok';
      out.textContent = t('receipt.sent', { to: r.sent_to });
    } catch (err) {
      out.className = 'error';
      out.textContent = errorText(err);
      b.disabled = false;
    }
  };
  return h('section', { class: 'no-print', 'aria-labelledby': 'receipt-send-h' },
    h('h2', { id: 'receipt-send-h' }, t('receipt.sendHeading')),
    h('p', {}, t('receipt.sendText')),
    h('div', { class: 'actions' },
      h('button', { type: 'button', 'data-testid': 'receipt-sms', onclick: send('sms') }, t('receipt.sendSms')),
      h('button', { type: 'button', 'data-testid': 'receipt-email', onclick: send('email') }, t('receipt.sendEmail'))),
    out);
}

function renderReceipt(ctx: Ctx, r: ReturnType<typeof saveReceipt>, check: U.ReceiptCheck): void {
  const copied = h('span', { role: 'status', 'aria-live': 'polite' });
  const json = JSON.stringify(r, null, 2);
  const download = h('a', { class: 'button', download: `urna-receipt-${r.tracking.slice(0, 16)}.json`, href: URL.createObjectURL(new Blob([json], { type: 'application/json' })) }, t('receipt.download'));
  const short = shortCode(r.tracking);
  clear(
    ctx.root,
    h('h1', {}, t('receipt.heading')),
    h('p', { class: 'ok', 'data-testid': 'receipt-verified', 'data-root': U.base64Encode(check.checkpoint.root) }, t('receipt.text')),
    h('h2', {}, t('receipt.tracking')),
    h('p', { class: 'code big', 'data-testid': 'short-code' }, short),
    h('p', {}, t('receipt.keep')),
    fullCode(r.tracking, 'tracking'),
    qrImage(r.tracking),
    h('p', { class: 'muted' }, ctx.names.title(), ' — ', t('receipt.printed', { when: dateTime(r.saved_at) })),
    h('div', { class: 'actions no-print' },
      h('button', { type: 'button', class: 'primary', onclick: () => {
        // The printed receipt carries the full code too.
        ctx.root.querySelectorAll('details.full-code').forEach((d) => ((d as HTMLDetailsElement).open = true));
        window.print();
      } }, t('receipt.print')),
      h('button', { type: 'button', onclick: async () => {
        try {
          await navigator.clipboard.writeText(short);
          copied.textContent = t('receipt.copied');
        } catch {
          const sel = getSelection();
          const code = ctx.root.querySelector('[data-testid=short-code]');
          if (sel && code) sel.selectAllChildren(code);
        }
      } }, t('receipt.copy')),
      download,
      h('a', { class: 'button', href: `#/check/${r.tracking}` }, t('receipt.check')),
      h('a', { class: 'button', href: '#/ballots' }, t('receipt.box')),
      copied,
    ),
    sendReceiptOffer(r.tracking),
  );
  focusHeading(ctx.root);
}

function renderAudit(ctx: Ctx, enc: U.EncryptedBallot, payload: Uint8Array, _check: U.ReceiptCheck): void {
  // Re-check the opened ballot here, from the payload as sent.
  const opened = U.decodeAuditPayload(payload);
  U.verifyAudit(opened.ballot, ctx.election.key, opened.selections, opened.nonces);
  clear(
    ctx.root,
    h('h1', {}, t('audit.heading')),
    h('p', { class: 'notice big', 'data-testid': 'audit-not-cast' }, t('audit.notCast')),
    h('p', {}, t('audit.text')),
    h('div', { 'data-testid': 'audit-choices' }, choicesList(ctx, opened.selections)),
    h('p', { class: 'ok', 'data-testid': 'audit-ok' }, t('audit.ok')),
    h('h2', {}, t('audit.codeHeading')),
    h('p', { class: 'code big', 'data-testid': 'audit-short' }, shortCode(U.toHex(enc.tracking))),
    h('p', {}, t('audit.second')),
    fullCode(U.toHex(enc.tracking), 'audit-tracking'),
    h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'primary', 'data-testid': 'start-again', onclick: () => renderBallot(ctx) }, t('audit.again')),
    ),
  );
  focusHeading(ctx.root);
}
