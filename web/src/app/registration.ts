// Voter registration (spec/registration.md §G9) as a LoginProvider: apply
// for online voting with the registry data (a refusal shows its stable
// reason code as a sentence), request a one-time code, log in with it,
// then make the credential on this device and register its public part
// through the voter's session (`POST /election/credentials`). The secret
// part never leaves the device.
import { randomScalar, scalarToBytes, toHex } from '../crypto/index.js';
import { ApiError, call, explain } from './api.js';
import { clear, focusHeading, h } from './dom.js';
import { currentLang, t } from './i18n.js';
import { loadNames } from './names.js';
import { LoginProvider, VoterSession, confirmForget, importRecoveryCode, publicCredential, registerLoginProvider, storeCredential, storedCredential } from './login.js';

interface Decision {
  decision: string;
  message: string;
}

export const registrationApi = {
  apply: (b: { full_name: string; birth_date: string; document_number: string; phone: string; email?: string }) =>
    call<Decision>('/registration/applications', { method: 'POST', body: JSON.stringify(b) }),
  code: (document_number: string, birth_date: string) =>
    // The code's SMS or e-mail is written in the page's language (registration.md §G6).
    call<{ sent_to: string }>('/registration/codes', { method: 'POST', body: JSON.stringify({ document_number, birth_date, lang: currentLang() }) }),
  login: (document_number: string, birth_date: string, code: string) =>
    call<{ token: string; expires_in: number }>('/registration/sessions', { method: 'POST', body: JSON.stringify({ document_number, birth_date, code }) }),
  me: (token: string) => call<{ region: string; district: string | null; precinct: string }>('/registration/me', { headers: { authorization: `Bearer ${token}` } }),
  withdraw: (token: string) => call<{ withdrawn: boolean }>('/registration/withdrawal', { method: 'POST', headers: { authorization: `Bearer ${token}` } }),
  /** The receipt code by SMS or e-mail to the voter's own application (registration.md §G6.1). */
  receipt: (token: string, tracking: string, channel: 'sms' | 'email') =>
    call<{ sent_to: string }>('/registration/receipt', { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: JSON.stringify({ tracking, channel, lang: currentLang() }) }),
  register: (token: string, district: string, precinct: string, credential: string) =>
    call<unknown>('/election/credentials', { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: JSON.stringify({ district, precinct, credential }) }),
};

/** Whether this server takes registrations (the endpoints answer 401, not 404, without a session). */
export async function registrationEnabled(): Promise<boolean> {
  try {
    await call('/registration/me');
    return true;
  } catch (e) {
    return e instanceof ApiError && e.status === 401;
  }
}

const PENDING = 'urna.pendingCredential';
/** The one-time-code session of this tab (withdrawal needs it); gone when the tab closes. */
const SESSION = 'urna.session';
export const sessionToken = (): string | null => sessionStorage.getItem(SESSION);

/** The credential secret being registered: the pending one, or a new one kept as pending. */
function pendingSecret(): bigint {
  try {
    const hex = localStorage.getItem(PENDING);
    if (hex) return importRecoveryCode(hex);
  } catch {
    /* a damaged pending key is replaced */
  }
  const x = randomScalar();
  localStorage.setItem(PENDING, toHex(scalarToBytes(x)));
  return x;
}

/** A refusal in the voter's language, with its stable code (the server's English sentence is not shown). */
export function refusal(code: string, _serverMessage?: string): string {
  return t('reg.refused', { message: explain(code), code });
}

export function errorOf(e: unknown): string {
  if (e instanceof ApiError && e.status !== 0) return refusal(e.code, e.message);
  if (e instanceof ApiError) return e.display();
  return String(e);
}

function field(id: string, label: string, attrs: Record<string, string | boolean> = {}): [HTMLElement, HTMLInputElement] {
  const input = h('input', { id, name: id, ...attrs }) as HTMLInputElement;
  return [h('div', { class: 'field' }, h('label', { for: id }, label), input), input];
}

export const oneTimeCode: LoginProvider = {
  id: 'otp',
  async render(root, done) {
    const names = await loadNames();
    const existing = storedCredential();
    if (existing) {
      clear(
        root,
        h('h1', {}, t('login.heading')),
        h('p', {}, t('login.have', { district: names.district(existing.district) })),
        h('code', { class: 'hex', 'data-testid': 'public-credential' }, publicCredential(existing.credentialSecret)),
        h('div', { class: 'actions' },
          h('button', { type: 'button', class: 'primary', onclick: () => done(existing) }, t('login.continue')),
          h('button', { type: 'button', 'data-testid': 'forget', onclick: () => confirmForget(root, existing.credentialSecret, () => void oneTimeCode.render(root, done), () => void oneTimeCode.render(root, done)) }, t('login.forget')),
        ),
        h('p', {}, h('a', { href: '#/withdraw' }, t('wd.link'))),
      );
      focusHeading(root);
      return;
    }

    // Step 1: apply.
    const [fName, name] = field('reg-name', t('reg.fullName'), { autocomplete: 'name', required: true });
    const [fBirth, birth] = field('reg-birth', t('reg.birthDate'), { type: 'date', autocomplete: 'bday', required: true });
    const [fDoc, doc] = field('reg-doc', t('reg.document'), { autocomplete: 'off', required: true });
    const [fPhone, phone] = field('reg-phone', t('reg.phone'), { type: 'tel', autocomplete: 'tel', required: true });
    const [fEmail, email] = field('reg-email', t('reg.email'), { type: 'email', autocomplete: 'email' });
    const applyMsg = h('div', { role: 'status', 'aria-live': 'polite', 'data-testid': 'apply-result' });
    const applyForm = h('form', { 'aria-labelledby': 'reg-apply-h', onsubmit: (e: Event) => { e.preventDefault(); void apply(); } },
      h('h2', { id: 'reg-apply-h' }, t('reg.applyHeading')),
      h('p', {}, t('reg.applyText')),
      fName, fBirth, fDoc, fPhone, fEmail,
      h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, t('reg.apply'))),
      applyMsg,
    );

    // Step 2: one-time code.
    const [fLDoc, lDoc] = field('login-doc', t('reg.document'), { autocomplete: 'off', required: true });
    const [fLBirth, lBirth] = field('login-birth', t('reg.birthDate'), { type: 'date', required: true });
    const [fCode, code] = field('login-code', t('reg.code'), { autocomplete: 'one-time-code', inputmode: 'numeric', required: true });
    fCode.hidden = true;
    const loginMsg = h('div', { role: 'status', 'aria-live': 'polite', 'data-testid': 'login-result' });
    const sendBtn = h('button', { type: 'button', onclick: () => void send() }, t('reg.sendCode'));
    const loginBtn = h('button', { type: 'submit', class: 'primary', hidden: true }, t('reg.login'));
    const loginForm = h('form', { 'aria-labelledby': 'reg-login-h', onsubmit: (e: Event) => { e.preventDefault(); void login(); } },
      h('h2', { id: 'reg-login-h' }, t('reg.loginHeading')),
      h('p', {}, t('reg.loginText')),
      fLDoc, fLBirth,
      h('div', { class: 'actions' }, sendBtn),
      fCode,
      h('div', { class: 'actions' }, loginBtn),
      loginMsg,
    );

    async function apply(): Promise<void> {
      clear(applyMsg, h('p', {}, t('common.loading')));
      try {
        const d = await registrationApi.apply({
          full_name: name.value,
          birth_date: birth.value,
          document_number: doc.value,
          phone: phone.value,
          email: email.value.trim() || undefined,
        });
        if (d.decision === 'approved' || d.decision === 'duplicate_application') {
          // Applying twice is not an error for the voter: say what to do next.
          const again = d.decision === 'duplicate_application';
          clear(applyMsg, h('p', { class: again ? 'notice' : 'ok', 'data-testid': again ? 'already-applied' : undefined }, t(again ? 'reg.already' : 'reg.approved')));
          lDoc.value = doc.value;
          lBirth.value = birth.value;
          sendBtn.focus();
        } else {
          clear(applyMsg, h('p', { class: 'error', role: 'alert' }, refusal(d.decision, d.message)));
        }
      } catch (e) {
        clear(applyMsg, h('p', { class: 'error', role: 'alert' }, errorOf(e)));
      }
    }

    async function send(): Promise<void> {
      if (!lDoc.value || !lBirth.value) {
        clear(loginMsg, h('p', { class: 'error', role: 'alert' }, t('reg.needIdentity')));
        return;
      }
      clear(loginMsg, h('p', {}, t('common.loading')));
      try {
        const r = await registrationApi.code(lDoc.value, lBirth.value);
        clear(loginMsg, h('p', {}, t('reg.codeSent', { to: r.sent_to })));
        fCode.hidden = false;
        loginBtn.hidden = false;
        code.focus();
      } catch (e) {
        clear(loginMsg, h('p', { class: 'error', role: 'alert' }, errorOf(e)));
      }
    }

    async function login(): Promise<void> {
      clear(loginMsg, h('p', {}, t('common.loading')));
      try {
        const s = await registrationApi.login(lDoc.value, lBirth.value, code.value.trim());
        sessionStorage.setItem(SESSION, s.token);
        const me = await registrationApi.me(s.token);
        if (!me.district) throw new Error(t('reg.noDistrict'));
        // The key pair is made here; only the public part is sent. It is
        // kept as pending first: the registry binds the first credential to
        // the voter, so a retry after a failure must send the same one.
        const session: VoterSession = { district: me.district, precinct: me.precinct, credentialSecret: pendingSecret() };
        try {
          await registrationApi.register(s.token, me.district, me.precinct, publicCredential(session.credentialSecret));
        } catch (e) {
          if (!(e instanceof ApiError && e.code === 'credential_already_registered')) throw e;
          // Registered from another device: this one takes its recovery code.
          localStorage.removeItem(PENDING);
          importStep(s.token, me.district, me.precinct);
          return;
        }
        storeCredential(session);
        localStorage.removeItem(PENDING);
        registered(session);
      } catch (e) {
        clear(loginMsg, h('p', { class: 'error', role: 'alert' }, errorOf(e)));
      }
    }

    /** The registry holds another credential of this voter: import its recovery code. */
    function importStep(token: string, district: string, precinct: string): void {
      const [fRec, rec] = field('reg-recovery', t('login.importCode'), { autocomplete: 'off', spellcheck: 'false', required: true });
      const msg = h('div', { role: 'status', 'aria-live': 'polite', 'data-testid': 'import-result' });
      const form = h('form', { 'aria-labelledby': 'reg-import-h', onsubmit: (e: Event) => { e.preventDefault(); void useCode(); } },
        h('h2', { id: 'reg-import-h' }, t('reg.importHeading')),
        h('p', {}, t('reg.importText')),
        fRec,
        h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, t('login.importDo'))),
        msg,
      );
      async function useCode(): Promise<void> {
        let x: bigint;
        try {
          x = importRecoveryCode(rec.value);
        } catch {
          clear(msg, h('p', { class: 'error', role: 'alert' }, t('login.badCode')));
          rec.focus();
          return;
        }
        clear(msg, h('p', {}, t('common.loading')));
        try {
          // The registry answers a retry of the voter's own credential as
          // the first time; the election already holds it (or is open).
          await registrationApi.register(token, district, precinct, publicCredential(x));
        } catch (e) {
          const ok = e instanceof ApiError && (e.code === 'duplicate_credential' || e.code === 'wrong_phase');
          if (!ok) {
            const wrong = e instanceof ApiError && e.code === 'credential_already_registered';
            clear(msg, h('p', { class: 'error', role: 'alert' }, wrong ? t('reg.importWrong') : errorOf(e)));
            rec.focus();
            return;
          }
        }
        const session: VoterSession = { district, precinct, credentialSecret: x };
        storeCredential(session);
        registered(session);
      }
      clear(root, h('h1', {}, t('reg.heading')), form);
      rec.focus();
    }

    function registered(session: VoterSession): void {
      clear(
        root,
        h('h1', {}, t('reg.doneHeading')),
        h('p', {}, t('reg.done', { district: names.district(session.district), precinct: names.precinct(session.precinct ?? '') })),
        h('p', {}, t('reg.public')),
        h('code', { class: 'hex', 'data-testid': 'public-credential' }, publicCredential(session.credentialSecret)),
        h('details', {},
          h('summary', {}, t('login.showRecovery')),
          h('p', {}, t('login.recovery')),
          h('code', { class: 'hex secret', 'data-testid': 'recovery-code' }, toHex(scalarToBytes(session.credentialSecret))),
        ),
        h('p', {}, t('reg.whenOpen')),
        h('div', { class: 'actions' }, h('button', { type: 'button', class: 'primary', onclick: () => done(session) }, t('login.continue'))),
        h('p', {}, h('a', { href: '#/withdraw' }, t('wd.link'))),
      );
      focusHeading(root);
    }

    clear(root, h('h1', {}, t('reg.heading')), applyForm, loginForm);
    focusHeading(root);
  },
};
registerLoginProvider(oneTimeCode);

// ---- Withdrawal (spec/registration.md §G4, §G9): until a ballot is cast ----

/**
 * The withdrawal page: a voter logged in with a one-time code withdraws the
 * application (a confirm step, then the server's answer). The server then
 * refuses ballots of the voter's credential (`application_withdrawn`), and
 * once a ballot is on the board it refuses the withdrawal
 * (`ballot_already_cast`).
 */
export async function withdrawPage(root: HTMLElement): Promise<void> {
  const heading = h('h1', {}, t('wd.heading'));
  const names = await loadNames();
  const token = sessionToken();
  if (!token) {
    loginForWithdrawal(root, heading);
    return;
  }
  clear(root, heading, h('p', {}, t('common.loading')));
  let me: { district: string | null; precinct: string };
  try {
    me = await registrationApi.me(token);
  } catch (e) {
    if (e instanceof ApiError && e.code === 'session_invalid') {
      sessionStorage.removeItem(SESSION);
      loginForWithdrawal(root, heading);
      return;
    }
    // No approved application: withdrawn already, or never approved.
    clear(root, heading, h('p', { class: 'error', role: 'alert', 'data-testid': 'withdraw-state' }, errorOf(e)));
    focusHeading(root);
    return;
  }
  const msg = h('div', { role: 'status', 'aria-live': 'polite', 'data-testid': 'withdraw-result' });
  const start = h('button', { type: 'button', 'data-testid': 'withdraw' }, t('wd.start'));
  const section = h('section', { 'aria-labelledby': 'wd-confirm-h' });
  start.addEventListener('click', () => {
    start.hidden = true;
    const yes = h('button', { type: 'button', class: 'primary', 'data-testid': 'withdraw-confirm' }, t('wd.confirm'));
    const no = h('button', { type: 'button' }, t('wd.cancel'));
    no.addEventListener('click', () => {
      clear(section);
      start.hidden = false;
      start.focus();
    });
    yes.addEventListener('click', () => void confirm(yes, no));
    clear(section, h('h2', { id: 'wd-confirm-h' }, t('wd.confirmHeading')), h('p', {}, t('wd.confirmText')), h('div', { class: 'actions' }, yes, no));
    (section.querySelector('h2') as HTMLElement).tabIndex = -1;
    (section.querySelector('h2') as HTMLElement).focus();
  });
  async function confirm(yes: HTMLElement, no: HTMLElement): Promise<void> {
    (yes as HTMLButtonElement).disabled = true;
    (no as HTMLButtonElement).disabled = true;
    clear(msg, h('p', {}, t('common.loading')));
    try {
      await registrationApi.withdraw(token!);
      clear(
        root,
        h('h1', {}, t('wd.doneHeading')),
        h('p', { class: 'ok', 'data-testid': 'withdraw-state', 'data-state': 'withdrawn' }, t('wd.done')),
        h('p', {}, t('wd.after')),
      );
      focusHeading(root);
    } catch (e) {
      clear(section);
      clear(msg, h('p', { class: 'error', role: 'alert', 'data-testid': 'withdraw-refused' }, errorOf(e)));
      msg.tabIndex = -1;
      msg.focus();
    }
  }
  clear(
    root,
    heading,
    h('p', { 'data-testid': 'withdraw-state', 'data-state': 'approved' }, t('wd.approved', { district: names.district(me.district ?? '?'), precinct: names.precinct(me.precinct) })),
    h('p', {}, t('wd.text')),
    h('div', { class: 'actions' }, start),
    section,
    msg,
  );
  focusHeading(root);
}

/** Withdrawal needs a session: log in with a one-time code here. */
function loginForWithdrawal(root: HTMLElement, heading: HTMLElement): void {
  const [fDoc, doc] = field('wd-doc', t('reg.document'), { autocomplete: 'off', required: true });
  const [fBirth, birth] = field('wd-birth', t('reg.birthDate'), { type: 'date', required: true });
  const [fCode, code] = field('wd-code', t('reg.code'), { autocomplete: 'one-time-code', inputmode: 'numeric', required: true });
  fCode.hidden = true;
  const msg = h('div', { role: 'status', 'aria-live': 'polite', 'data-testid': 'wd-login-result' });
  const send = h('button', { type: 'button' }, t('reg.sendCode'));
  const login = h('button', { type: 'submit', class: 'primary', hidden: true }, t('reg.login'));
  send.addEventListener('click', () => void (async () => {
    if (!doc.value || !birth.value) {
      clear(msg, h('p', { class: 'error', role: 'alert' }, t('reg.needIdentity')));
      return;
    }
    try {
      const r = await registrationApi.code(doc.value, birth.value);
      clear(msg, h('p', {}, t('reg.codeSent', { to: r.sent_to })));
      fCode.hidden = false;
      login.hidden = false;
      code.focus();
    } catch (e) {
      clear(msg, h('p', { class: 'error', role: 'alert' }, errorOf(e)));
    }
  })());
  const form = h('form', { 'aria-labelledby': 'wd-login-h', onsubmit: (e: Event) => { e.preventDefault(); void submit(); } },
    h('h2', { id: 'wd-login-h' }, t('reg.loginHeading')),
    h('p', {}, t('wd.loginText')),
    fDoc, fBirth,
    h('div', { class: 'actions' }, send),
    fCode,
    h('div', { class: 'actions' }, login),
    msg,
  );
  async function submit(): Promise<void> {
    try {
      const s = await registrationApi.login(doc.value, birth.value, code.value.trim());
      sessionStorage.setItem(SESSION, s.token);
      await withdrawPage(root);
    } catch (e) {
      clear(msg, h('p', { class: 'error', role: 'alert' }, errorOf(e)));
    }
  }
  clear(root, heading, form);
  focusHeading(root);
}
