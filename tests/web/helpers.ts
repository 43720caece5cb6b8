// Real headless Chromium (Debian's /usr/bin/chromium driven by playwright-core) for the web page
// tests: a fresh user-data-dir per browser, screenshots under the test's temp dir. A missing
// Chromium is a loud failure (`npm test` installs it as root: apt-get install -y chromium);
// DROVER_TEST_SKIP_BROWSER=1 skips these tests on purpose, with one warning.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'bun:test';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import type { TestServer } from '../helpers/server.ts';

export const CHROMIUM = process.env.DROVER_TEST_CHROMIUM ?? '/usr/bin/chromium';
export const SKIP_BROWSER = process.env.DROVER_TEST_SKIP_BROWSER === '1';
if (SKIP_BROWSER) console.warn('[web tests] DROVER_TEST_SKIP_BROWSER=1: the Chromium tests are skipped ON PURPOSE');
/** `test`, or `test.skip` when the browser tests are skipped on purpose */
export const browserTest = SKIP_BROWSER ? test.skip : test;
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export interface Browser { ctx: BrowserContext; page: Page; shots: string; errors: string[]; shot(name: string): Promise<string>; close(): Promise<void> }

export async function openBrowser(shotsDir: string, viewport = { width: 1280, height: 800 }): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium is missing at ${CHROMIUM}: the web page tests need it (apt-get install -y chromium)`);
  const userDataDir = mkdtempSync(join(tmpdir(), 'drover-chromium-'));
  const ctx = await chromium.launchPersistentContext(userDataDir, { executablePath: CHROMIUM, headless: true, args: ARGS, viewport });
  const page = ctx.pages()[0] ?? (await ctx.newPage());
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  mkdirSync(shotsDir, { recursive: true });
  let n = 0;
  return {
    ctx, page, shots: shotsDir, errors,
    async shot(name) {
      const path = join(shotsDir, `${String(++n).padStart(2, '0')}-${name}.png`);
      await page.screenshot({ path, fullPage: true });
      return path;
    },
    async close() { await ctx.close().catch(() => {}); rmSync(userDataDir, { recursive: true, force: true }); },
  };
}

/** Opens the page served by `s` and enters its admin token in the form. */
export async function login(b: Browser, s: TestServer, hash = '#/runs'): Promise<void> {
  await b.page.goto(`${s.url}/${hash}`);
  await b.page.locator('#token').fill(s.token);
  await b.page.locator('form.token button[type=submit]').click();
  await b.page.locator('#conn.on').waitFor({ timeout: 10_000 });
}

/** The text of an element, whitespace squeezed. */
export async function textOf(page: Page, selector: string): Promise<string> {
  return ((await page.locator(selector).first().textContent()) ?? '').replace(/\s+/g, ' ').trim();
}

/** Waits until the element's text contains `want` (a string or a pattern). */
export async function waitText(page: Page, selector: string, want: string | RegExp, timeout = 20_000): Promise<void> {
  await page.waitForFunction(([sel, src, isRe]) => {
    const t = document.querySelector(sel as string)?.textContent ?? '';
    return isRe ? new RegExp(src as string).test(t) : t.includes(src as string);
  }, [selector, typeof want === 'string' ? want : want.source, typeof want !== 'string'] as const, { timeout, polling: 100 });
}

/** The text nodes that show `null`, `undefined`, `NaN` or `[object …]` (the page must never print one). */
export async function nullTexts(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const out: string[] = [];
    const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walk.nextNode(); n; n = walk.nextNode()) if (/\b(null|undefined|NaN)\b|\[object /.test(n.textContent ?? '')) out.push(`${(n.parentElement?.tagName ?? '').toLowerCase()}: ${n.textContent}`);
    return out;
  });
}
