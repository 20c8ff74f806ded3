// The urna web app: hash routes, language switch, and a benchmark hook.
import * as U from '../crypto/index.js';
import { clear, h } from './dom.js';
import { LANGUAGES, Lang, currentLang, setLang, t } from './i18n.js';
import { checkPage, homePage, resultsPage, turnoutPage } from './pages.js';
import { votePage } from './vote.js';
import { boardPage } from './board.js';

const ROUTES: [string, string][] = [
  ['#/', 'nav.home'],
  ['#/vote', 'nav.vote'],
  ['#/check', 'nav.check'],
  ['#/turnout', 'nav.turnout'],
  ['#/results', 'nav.results'],
  ['#/board', 'nav.board'],
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
    case 'board':
      void boardPage(main, arg ? Number(arg) : undefined);
      break;
    default:
      homePage(main);
  }
}

/** Times encrypting + proving + signing a ballot of `options` 1-of-n options here (ms). */
function bench(options = 20, runs = 5): { ms: number[]; median: number; bytes: number } {
  const K = U.mul(U.G, U.randomScalar());
  const e: U.Election = { key: K, fingerprint: U.fingerprintElection(U.randomBytes(32), K) };
  const shapes = [{ options, option_max: 1, min: 1, max: 1 }];
  const sel = [Array.from({ length: options }, (_, i) => (i === 3 ? 1 : 0))];
  const x = U.randomScalar();
  U.encryptBallot(e, x, U.ballotHeader('bench', 'd'), shapes, sel); // warm-up
  const ms: number[] = [];
  let bytes = 0;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const b = U.encryptBallot(e, x, U.ballotHeader('bench', 'd'), shapes, sel);
    ms.push(performance.now() - t0);
    bytes = b.bytes.length;
  }
  const sorted = [...ms].sort((a, b) => a - b);
  return { ms, median: sorted[Math.floor(sorted.length / 2)], bytes };
}
(globalThis as any).urnaBench = bench;

window.addEventListener('hashchange', route);
route();
