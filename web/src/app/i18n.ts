// All visible text comes from the message files in src/i18n/; numbers,
// percentages, plurals and dates go through the Intl APIs of the voter's
// language (never a hard-coded "." or "s").
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
export const locale = (): string => (lang === 'ru' ? 'ru-RU' : 'en-GB');
export function setLang(l: Lang): void {
  lang = l;
  localStorage.setItem('urna.lang', l);
  document.documentElement.lang = l;
}

/** Whether the catalogue has `key`. */
export const has = (key: string): boolean => key in CATALOGS[lang];

export function t(key: string, params: Record<string, string | number> = {}): string {
  const msg = CATALOGS[lang][key] ?? CATALOGS.en[key] ?? key;
  return msg.replace(/\{(\w+)\}/g, (_m, k) => (k in params ? (typeof params[k] === 'number' ? num(params[k] as number) : String(params[k])) : `{${k}}`));
}

/**
 * A counted phrase: `key.one|few|many|other` chosen by Intl.PluralRules
 * of the voter's language ("1 хеш", "3 хеша", "5 хешей"); `{n}` is the
 * localized number.
 */
export function plural(key: string, n: number, params: Record<string, string | number> = {}): string {
  const form = new Intl.PluralRules(locale()).select(n);
  return t(`${key}.${form}`, { ...params, n });
}

/** A localized integer (thin-space groups in Russian). */
export const num = (n: number): string => new Intl.NumberFormat(locale()).format(n);

/** a/b as a localized percentage with one decimal ("12,5 %"), or "—". */
export const percent = (a: number, b: number): string =>
  b > 0 ? new Intl.NumberFormat(locale(), { style: 'percent', minimumFractionDigits: 1, maximumFractionDigits: 1 }).format(a / b) : '—';

/** An instant in the voter's own time zone, with the zone named. */
export function dateTime(when: string | number | Date): string {
  const d = when instanceof Date ? when : new Date(typeof when === 'number' ? when * 1000 : when);
  return new Intl.DateTimeFormat(locale(), { year: 'numeric', month: 'long', day: 'numeric', hour: '2-digit', minute: '2-digit', timeZoneName: 'short' }).format(d);
}

/** Per-language texts of the manifest (spec/record.md §R2.5). */
export type Texts = { ru?: string; en?: string } | null | undefined;

/** The text in the voter's language, else the other one, else `fallback`. */
export function loc(texts: Texts, fallback: string): string {
  if (!texts) return fallback;
  return texts[lang] ?? texts[lang === 'ru' ? 'en' : 'ru'] ?? fallback;
}
