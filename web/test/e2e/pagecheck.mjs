// Checks shared by the trustee and observer browser tests: a screenshot
// and an axe-core scan (WCAG 2.1 A/AA) of each page state, and no
// horizontal scrolling. Violations are collected and asserted empty by
// the caller at the end, so one run lists them all.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const SHOTS = new URL('../../screenshots/', import.meta.url).pathname;
mkdirSync(SHOTS, { recursive: true });
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
export const LAUNCH = {
  executablePath: CHROMIUM,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
};

export class PageChecks {
  violations = [];
  scans = 0;

  /** Screenshot `name`, then axe on the page as it is now. */
  async shot(page, name) {
    await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
    if (!(await page.evaluate(() => typeof globalThis.axe !== 'undefined'))) await page.evaluate(AXE);
    const r = await page.evaluate(() => globalThis.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }));
    assert.ok(r.passes.length > 0, `${name}: axe checked nothing`);
    this.scans++;
    for (const v of r.violations) this.violations.push(`${name}: ${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')}`);
  }

  /** Nothing scrolls sideways at this width. */
  async noSideways(page, what) {
    const { sw, w } = await page.evaluate(() => ({ sw: document.documentElement.scrollWidth, w: window.innerWidth }));
    assert.ok(sw <= w, `${what}: no horizontal scrolling at ${w} px (scrollWidth ${sw})`);
  }

  /**
   * A Russian page reads in Russian: no Latin word in <main> outside codes,
   * hashes, error codes, language names and what people typed (complaint
   * texts); the program names `urna` and `urna observe`, SHA and UTC are
   * allowed.
   */
  async noEnglish(page, what) {
    const text = await page.evaluate(() => {
      const m = document.querySelector('main').cloneNode(true);
      m.querySelectorAll('details, code, select, ol.complaints').forEach((e) => e.remove());
      return m.textContent;
    });
    // Error codes (snake_case identifiers) are codes, not words.
    const words = (text.replace(/\(код [a-z_.]+\)/g, '').replace(/\b[a-z]+(_[a-z]+)+\b/g, '').match(/[A-Za-z]{3,}/g) ?? []).filter((w) => !['urna', 'observe', 'SHA', 'UTC'].includes(w));
    assert.deepEqual(words, [], `${what}: English words on a Russian page: ${text}`);
  }

  /** All: the axe scan; at 360 px, the width check; on a Russian page, no English. */
  async state(page, name) {
    await this.shot(page, name);
    if (page.viewportSize()?.width <= 400) await this.noSideways(page, name);
    if ((await page.evaluate(() => document.documentElement.lang)) === 'ru') await this.noEnglish(page, name);
  }
}

/** A fresh browser context in `lang` at `width` px that fails the test on page errors. */
export async function newPage(browser, base, { lang = 'en', width = 1100 } = {}) {
  const context = await browser.newContext({ viewport: { width, height: 900 }, locale: lang === 'ru' ? 'ru-RU' : 'en-GB', timezoneId: 'UTC', acceptDownloads: true });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(base + '/');
  await page.evaluate((l) => localStorage.setItem('urna.lang', l), lang);
  return { context, page, errors };
}
