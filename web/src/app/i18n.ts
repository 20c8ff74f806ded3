// All visible text comes from the message files in src/i18n/.
import en from '../i18n/en.json';
import ru from '../i18n/ru.json';

const CATALOGS: Record<string, Record<string, string>> = { en, ru };
export const LANGUAGES = ['ru', 'en'] as const;
export type Lang = (typeof LANGUAGES)[number];

function initial(): Lang {
  const saved = globalThis.localStorage?.getItem('urna.lang');
  if (saved === 'ru' || saved === 'en') return saved;
  return (globalThis.navigator?.language ?? 'ru').startsWith('en') ? 'en' : 'ru';
}

let lang: Lang = initial();

export const currentLang = (): Lang => lang;
export function setLang(l: Lang): void {
  lang = l;
  localStorage.setItem('urna.lang', l);
  document.documentElement.lang = l;
}

export function t(key: string, params: Record<string, string | number> = {}): string {
  const msg = CATALOGS[lang][key] ?? CATALOGS.en[key] ?? key;
  return msg.replace(/\{(\w+)\}/g, (_m, k) => (k in params ? String(params[k]) : `{${k}}`));
}
