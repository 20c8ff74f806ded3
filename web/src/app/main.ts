// The urna web app: hash routes, language switch, and a benchmark hook.
import * as U from '../crypto/index.js';
import { clear, h } from './dom.js';
import { LANGUAGES, Lang, currentLang, setLang, t } from './i18n.js';
import { ballotsPage, checkPage, homePage, resultsPage, turnoutPage } from './pages.js';
import { votePage } from './vote.js';
import { boardPage } from './board.js';
import { complaintsPage } from './complaints.js';
import { withdrawPage } from './registration.js';
import { trusteePage } from './trustee.js';
import { observerPage } from './observer.js';
import { verifyPage } from './verify.js';

const ROUTES: [string, string][] = [
  ['#/', 'nav.home'],
  ['#/vote', 'nav.vote'],
  ['#/check', 'nav.check'],
  ['#/ballots', 'nav.ballots'],
  ['#/turnout', 'nav.turnout'],
  ['#/results', 'nav.results'],
  ['#/board', 'nav.board'],
  ['#/complaints', 'nav.complaints'],
  ['#/observer', 'nav.observer'],
  ['#/trustee', 'nav.trustee'],
  ['#/verify', 'nav.verify'],
];

function chrome(): HTMLElement {
  document.title = t('app.title');
  const main = h('main', { id: 'main', tabindex: '-1' });
  const here = location.hash.split('/').slice(0, 2).join('/') || '#/';
  const lang = h('select', { id: 'lang', 'aria-label': t('lang.label') }, LANGUAGES.map((l) => h('option', { value: l, selected: l === currentLang() }, l === 'ru' ? 'Русский' : 'English'))) as HTMLSelectElement;
  lang.addEventListener('change', () => {
    setLang(lang.value as Lang);
    route();
  });
  clear(
    document.body,
    h('a', { href: '#main', class: 'skip', onclick: (e: Event) => { e.preventDefault(); main.focus(); } }, t('app.skip')),
    h('header', {},
      h('a', { href: '#/', class: 'brand' }, 'urna'),
      h('nav', { 'aria-label': t('nav.label') }, h('ul', {}, ROUTES.slice(1).map(([href, key]) => h('li', {}, h('a', { href, 'aria-current': here === href ? 'page' : undefined }, t(key)))))),
      lang,
    ),
    main,
  );
  return main;
}

function route(): void {
  document.documentElement.lang = currentLang();
  const main = chrome();
  const [, page, arg] = location.hash.split('/');
  switch (page) {
    case 'vote':
      void votePage(main);
      break;
    case 'check':
      checkPage(main, arg);
      break;
    case 'turnout':
      void turnoutPage(main);
      break;
    case 'results':
      void resultsPage(main);
      break;
    case 'complaints':
      void complaintsPage(main);
      break;
    case 'trustee':
      void trusteePage(main);
      break;
    case 'observer':
      void observerPage(main);
      break;
    case 'withdraw':
      void withdrawPage(main);
      break;
    case 'ballots':
      void ballotsPage(main, arg);
      break;
    case 'board':
      void boardPage(main, arg ? Number(arg) : undefined);
      break;
    case 'verify':
      verifyPage(main);
      break;
    default:
      void homePage(main);
  }
}

/**
 * Times encrypting + proving + signing a 1-of-`options` ballot here (ms):
 * `warm` reuses one election key (its window table built), `cold` uses a
 * fresh key each run, as a voter's single ballot does.
 */
function bench(options = 20, runs = 5): { warm: number[]; cold: number[]; medianWarm: number; medianCold: number; bytes: number } {
  const election = (): U.Election => {
    const K = U.mul(U.G, U.randomScalar());
    return { key: K, fingerprint: U.fingerprintElection(U.randomBytes(32), K) };
  };
  const shapes = [{ options, option_max: 1, min: 1, max: 1 }];
  const sel = [Array.from({ length: options }, (_, i) => (i === 3 ? 1 : 0))];
  const x = U.randomScalar();
  const warmKey = election();
  let bytes = U.encryptBallot(warmKey, x, U.ballotHeader('bench', 'd'), shapes, sel).bytes.length; // JIT warm-up
  const time = (e: () => U.Election) =>
    Array.from({ length: runs }, () => {
      const el = e();
      const t0 = performance.now();
      bytes = U.encryptBallot(el, x, U.ballotHeader('bench', 'd'), shapes, sel).bytes.length;
      return performance.now() - t0;
    });
  const warm = time(() => warmKey);
  const cold = time(election);
  const median = (ms: number[]) => [...ms].sort((a, b) => a - b)[Math.floor(ms.length / 2)];
  return { warm, cold, medianWarm: median(warm), medianCold: median(cold), bytes };
}
(globalThis as any).urnaBench = bench;

window.addEventListener('hashchange', route);
route();
