// Web page benchmark (not a test): a sweep of N runs (default 10,000), each writing one numeric output,
// run to the end; then, in headless Chromium, the group page (#/group/ID) and the runs list:
// time until the results table and the chart are on screen, the DOM size, the results answer's size,
// the time a sort by the output takes, and the collapsed runs list (GET /runs?collapse=group) times.
//   bun bench/web.ts [N=10000] [--max-parallel 16]
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withServer, now, pollUntil, round, removeRoots } from './lib.ts';

const n = Number(process.argv[2] ?? 10_000);
const mp = process.argv.includes('--max-parallel') ? process.argv[process.argv.indexOf('--max-parallel') + 1]! : '16';

const out = await withServer(['--max-parallel', mp, '--max-sweep', String(Math.max(n, 10_000))], async (s) => {
  const t0 = now();
  const post = await s.must('POST', '/runs', { spec: { name: 'bench-web', matrix: { i: Array.from({ length: n }, (_, i) => i) }, stages: [{ name: 'm', jobs: [{ name: 'p', commands: ['echo "loss=$((DROVER_PARAM_I % 97))" >> "$DROVER_OUTPUT"'] }] }] } });
  const gid: string = post.body.group.id;
  const end = await pollUntil(async () => { const g = (await s.api('GET', `/groups/${gid}`)).body; return ['succeeded', 'failed', 'canceled'].includes(g.status) ? g : null; }, 60 * 60_000, 1000);
  const sweepS = (now() - t0) / 1000;
  const results = await s.api('GET', `/groups/${gid}/results?format=json`);
  const list: number[] = [];
  for (let i = 0; i < 5; i++) list.push((await s.api('GET', '/runs?collapse=group&limit=50')).ms);
  const flat: number[] = [];
  for (let i = 0; i < 5; i++) flat.push((await s.api('GET', '/runs?limit=50')).ms);
  const dir = mkdtempSync(join(tmpdir(), 'drover-bench-chromium-'));
  const ctx = await chromium.launchPersistentContext(dir, { executablePath: '/usr/bin/chromium', headless: true, args: ['--headless', '--no-sandbox', '--disable-gpu'], viewport: { width: 1280, height: 800 } });
  try {
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    await page.goto(`${s.url}/`);
    await page.evaluate((t) => localStorage.setItem('drover.token', t), s.token);
    await page.goto(`${s.url}/#/group/${gid}`);
    const p0 = now();
    await page.reload(); // a fresh load of the group page, with the token in this browser
    await page.locator('table.results-table tbody tr[data-run]').first().waitFor({ state: 'attached', timeout: 120_000 });
    const tableMs = now() - p0;
    await page.locator('svg.chart circle.mark').first().waitFor({ state: 'attached', timeout: 120_000 });
    const groupPageMs = now() - p0;
    const nav = await page.evaluate(() => performance.getEntriesByType('resource').filter((e) => (e as PerformanceResourceTiming).name.includes('/results')).map((e) => Math.round(e.duration)));
    // where the time went: the page's own clock from navigation start
    const timing = await page.evaluate(() => ({
      dom_content_loaded: Math.round((performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming).domContentLoadedEventEnd),
      requests: performance.getEntriesByType('resource').filter((e) => e.name.includes('/api/')).map((e) => `${new URL(e.name).pathname.replace(/g_\w+/, 'G')} ${Math.round(e.startTime)}+${Math.round(e.duration)}`),
      marks: performance.getEntriesByType('mark').filter((m) => m.name.startsWith('drover:')).map((m) => `${m.name} ${Math.round(m.startTime)}`),
      now: Math.round(performance.now()),
    }));
    const dom = await page.evaluate(() => document.getElementsByTagName('*').length);
    const marks = await page.locator('svg.chart circle.mark').count();
    const rows = await page.locator('table.results-table tbody tr').count();
    const s0 = now();
    await page.locator('th[data-key="o:loss"]').click();
    await page.waitForFunction(() => document.querySelector('th[data-key="o:loss"]')?.getAttribute('aria-sort') === 'ascending');
    const sortMs = now() - s0;
    const l0 = now();
    await page.evaluate(() => { location.hash = '#/runs'; });
    await page.locator(`tr.grouprow`).first().waitFor();
    const listPageMs = now() - l0;
    return {
      runs: n, status: end?.status ?? 'timeout', sweep_end_to_end_s: round(sweepS), results_json_bytes: results.body ? JSON.stringify(results.body).length : 0, results_http_ms: round(results.ms),
      runs_list_collapsed_ms_median: round(list.sort((a, b) => a - b)[2]!), runs_list_flat_ms_median: round(flat.sort((a, b) => a - b)[2]!),
      group_page_to_table_ms: round(tableMs), group_page_to_chart_ms: round(groupPageMs), results_fetch_in_browser_ms: nav, page_timing: timing, dom_elements: dom, table_rows_in_dom: rows, chart_marks: marks, sort_by_output_ms: round(sortMs), runs_page_ms: round(listPageMs),
    };
  } finally { await ctx.close(); rmSync(dir, { recursive: true, force: true }); }
});
removeRoots();
console.log(JSON.stringify(out, null, 2));
