// The voter login seam. A voter is authorised by a credential on the
// sealed list, registered through the server's `Registrar` (spec/api.md
// §A1.1). Two providers: `device` (the credential is made here and the
// commission registers it, when the server has no voter registration) and
// `otp` (registration.ts: apply, log in with a one-time code, register the
// public credential made here through the voter's session). The ballot
// pages only need a VoterSession.
import { G, decodeScalar, fromHex, mul, randomScalar, scalarToBytes, toHex } from '../crypto/index.js';
import { api } from './api.js';
import { clear, focusHeading, h } from './dom.js';
import { t } from './i18n.js';
import { loadNames } from './names.js';

const districtName = async (id: string): Promise<string> => (await loadNames()).district(id);

export interface VoterSession {
  district: string;
  precinct?: string;
  credentialSecret: bigint;
}

export interface LoginProvider {
  id: string;
  /** Renders the login step into `root` and calls `done` once the voter may vote. */
  render(root: HTMLElement, done: (s: VoterSession) => void): void | Promise<void>;
}

const providers = new Map<string, LoginProvider>();
export function registerLoginProvider(p: LoginProvider): void {
  providers.set(p.id, p);
}
export function loginProvider(id = 'device'): LoginProvider {
  return providers.get(id) ?? deviceCredential;
}

interface Stored {
  secret: string;
  district: string;
  precinct?: string;
}
const KEY = 'urna.credential';

export function storedCredential(): VoterSession | null {
  try {
    const s = JSON.parse(localStorage.getItem(KEY) ?? 'null') as Stored | null;
    if (!s) return null;
    return { district: s.district, precinct: s.precinct, credentialSecret: decodeScalar(fromHex(s.secret, 32)) };
  } catch {
    return null;
  }
}
export function storeCredential(s: VoterSession): void {
  localStorage.setItem(KEY, JSON.stringify({ secret: toHex(scalarToBytes(s.credentialSecret)), district: s.district, precinct: s.precinct }));
}

/** crypto.md §6.5: a recovery code is the 32-byte scalar; non-canonical and zero are refused. */
export function forgetCredential(): void {
  localStorage.removeItem(KEY);
}

/**
 * Removing the key is irreversible without the recovery code (issue 13.7):
 * a confirm step that explains this and offers the code to save first.
 */
export function confirmForget(root: HTMLElement, secret: bigint, onRemoved: () => void, onCancel: () => void): void {
  const code = toHex(scalarToBytes(secret));
  const file = URL.createObjectURL(new Blob([`${t('login.recovery')}\n${code}\n`], { type: 'text/plain' }));
  const yes = h('button', { type: 'button', class: 'danger', 'data-testid': 'forget-confirm' }, t('forget.yes'));
  const no = h('button', { type: 'button', class: 'primary' }, t('forget.no'));
  yes.addEventListener('click', () => {
    forgetCredential();
    onRemoved();
  });
  no.addEventListener('click', onCancel);
  clear(
    root,
    h('h1', {}, t('forget.heading')),
    h('p', { class: 'notice', 'data-testid': 'forget-warning' }, t('forget.text')),
    h('p', {}, t('forget.save')),
    h('code', { class: 'hex secret', 'data-testid': 'forget-recovery' }, code),
    h('div', { class: 'actions' }, h('a', { class: 'button', href: file, download: 'urna-recovery-code.txt' }, t('forget.download'))),
    h('div', { class: 'actions' }, no, yes),
  );
  focusHeading(root);
}

export function importRecoveryCode(code: string): bigint {
  const x = decodeScalar(fromHex(code.trim().toLowerCase(), 32));
  if (x === 0n) throw new Error('zero');
  return x;
}

export const publicCredential = (x: bigint): string => toHex(mul(G, x).toBytes());

/** A credential made and kept on this device (registration by the commission). */
export const deviceCredential: LoginProvider = {
  id: 'device',
  async render(root, done) {
    const existing = storedCredential();
    if (existing) {
      clear(
        root,
        h('h1', {}, t('login.heading')),
        h('p', {}, t('login.have', { district: await districtName(existing.district) })),
        h('p', {}, t('login.made')),
        h('code', { class: 'hex', 'data-testid': 'public-credential' }, publicCredential(existing.credentialSecret)),
        h('details', {},
          h('summary', {}, t('login.showRecovery')),
          h('p', {}, t('login.recovery')),
          h('code', { class: 'hex secret', 'data-testid': 'recovery-code' }, toHex(scalarToBytes(existing.credentialSecret))),
        ),
        h('div', { class: 'actions' },
          h('button', { type: 'button', class: 'primary', onclick: () => done(existing) }, t('login.continue')),
          h('button', { type: 'button', 'data-testid': 'forget', onclick: () => confirmForget(root, existing.credentialSecret, () => void deviceCredential.render(root, done), () => void deviceCredential.render(root, done)) }, t('login.forget')),
        ),
      );
      focusHeading(root);
      return;
    }
    clear(root, h('h1', {}, t('login.heading')), h('p', {}, t('common.loading')));
    const names = await loadNames();
    let districts: { id: string; parent?: string }[] = [];
    let precincts: { id: string; parent?: string }[] = [];
    try {
      const tu = await api.turnout();
      districts = tu.districts;
      precincts = tu.precincts;
    } catch {
      /* the selects stay empty; the error shows when the voter continues */
    }
    const district = h('select', { id: 'district', name: 'district', required: true },
      h('option', { value: '' }, '—'),
      districts.map((d) => h('option', { value: d.id }, names.district(d.id))),
    ) as HTMLSelectElement;
    const precinct = h('select', { id: 'precinct', name: 'precinct' }) as HTMLSelectElement;
    const fillPrecincts = () =>
      clear(precinct, h('option', { value: '' }, '—'), precincts.filter((p) => p.parent === district.value).map((p) => h('option', { value: p.id }, names.precinct(p.id))));
    district.addEventListener('change', fillPrecincts);
    fillPrecincts();
    const msg = h('p', { class: 'error', role: 'alert', 'aria-live': 'assertive' });
    const code = h('input', { id: 'recovery', name: 'recovery', autocomplete: 'off', spellcheck: 'false', inputmode: 'text', size: 64 }) as HTMLInputElement;
    const result = h('div', { 'aria-live': 'polite' });
    const chosen = (): VoterSession | null => {
      if (!district.value) {
        msg.textContent = t('login.chooseDistrict');
        district.focus();
        return null;
      }
      msg.textContent = '';
      return { district: district.value, precinct: precinct.value || undefined, credentialSecret: 0n };
    };
    const made = (s: VoterSession, showRecovery: boolean) => {
      storeCredential(s);
      clear(
        result,
        h('p', {}, t('login.made')),
        h('code', { class: 'hex', 'data-testid': 'public-credential' }, publicCredential(s.credentialSecret)),
        showRecovery && h('p', {}, t('login.recovery')),
        showRecovery && h('code', { class: 'hex secret' }, toHex(scalarToBytes(s.credentialSecret))),
        h('p', {}, t('login.pending')),
        h('button', { type: 'button', class: 'primary', onclick: () => done(s) }, t('login.continue')),
      );
    };
    clear(
      root,
      h('h1', {}, t('login.heading')),
      h('p', {}, t('login.text')),
      h('div', { class: 'field' }, h('label', { for: 'district' }, t('login.district')), district),
      h('div', { class: 'field' }, h('label', { for: 'precinct' }, t('login.precinct')), precinct),
      msg,
      h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'primary', 'data-testid': 'new-credential', onclick: () => {
          const s = chosen();
          if (s) made({ ...s, credentialSecret: randomScalar() }, true);
        } }, t('login.new')),
      ),
      h('details', {},
        h('summary', {}, t('login.import')),
        h('div', { class: 'field' }, h('label', { for: 'recovery' }, t('login.importCode')), code),
        h('button', { type: 'button', onclick: () => {
          const s = chosen();
          if (!s) return;
          try {
            made({ ...s, credentialSecret: importRecoveryCode(code.value) }, false);
          } catch {
            msg.textContent = t('login.badCode');
            code.focus();
          }
        } }, t('login.importDo')),
      ),
      result,
    );
    focusHeading(root);
  },
};
registerLoginProvider(deviceCredential);
