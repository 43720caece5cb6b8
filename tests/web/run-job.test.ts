// A failed run, a live job, a job-level matrix and the WebSocket ticket in real Chromium: the run page
// names the failed job, its exit code and a line of its log, prints no `null`, and draws a succeeded job
// of a failed stage as succeeded; matrix jobs fold into one row with counts per status; the timeline has a
// bar per job; a live job's elapsed time and log size change while it prints; the page's WebSocket URL
// carries a one-time ticket and no token, and that ticket replayed is refused.
import { expect, beforeAll, afterAll } from 'bun:test';
import { join } from 'node:path';
import { startServer, type TestServer } from '../helpers/server.ts';
import { WsClient } from '../ws/helpers.ts';
import { openBrowser, browserTest, SKIP_BROWSER, login, textOf, waitText, nullTexts, type Browser } from './helpers.ts';

let s: TestServer;
let b: Browser;
const wsUrls: string[] = [];
beforeAll(async () => {
  if (SKIP_BROWSER) return;
  s = await startServer(['--max-parallel', '4']);
  b = await openBrowser(join(s.root, 'shots'));
  b.page.on('websocket', (ws) => wsUrls.push(ws.url()));
});
afterAll(async () => { await b?.close(); await s?.stop(); });
const go = (hash: string) => b.page.evaluate((h) => { location.hash = h; }, hash);

browserTest('the WebSocket is opened with a one-time ticket, never the token; the ticket replayed is refused', async () => {
  await login(b, s, '#/runs');
  expect(wsUrls.length).toBeGreaterThan(0);
  for (const u of wsUrls) {
    expect(u).not.toContain(s.token);
    expect(u).not.toContain('token=');
    expect(u).toMatch(/\/api\/v1\/ws\?ticket=wst_/);
  }
  const ticket = new URL(wsUrls[0]!).searchParams.get('ticket');
  const err = await WsClient.open(s, { token: null, query: `?ticket=${ticket}` }).then((c) => { c.close(); return null; }, (e) => e);
  expect(err?.status).toBe(401);
  expect(s.stderr).not.toContain(ticket!);
  expect(s.stderr).not.toContain(s.token);
}, 60_000);

browserTest('a failed run: the summary names the failed job, its exit code and its log; no null; a succeeded job of the failed stage stays green', async () => {
  const out = await s.submit({
    name: 'web-fail', workspace: s.root,
    stages: [
      { name: 'build', jobs: [{ name: 'fine', commands: ['echo all good'] }, { name: 'broken', commands: ['echo preparing', 'sleep 0.5; for i in $(seq 1 30); do echo "line $i"; done; echo "boom: disk on fire"; exit 3'] }] },
      { name: 'ship', needs: ['build'], jobs: [{ name: 'upload', commands: ['echo never'] }] },
    ],
  });
  const run = await s.waitRun(out.run.id);
  expect(run.status).toBe('failed');
  const [fine, broken] = run.stages[0].jobs;
  await go(`#/run/${run.id}`);
  await b.page.locator('#failure').waitFor();
  expect(await textOf(b.page, '#failure .failed-job')).toBe('build/broken');
  expect(await textOf(b.page, '#failure')).toContain('exit code 3');
  expect(await textOf(b.page, '#failure')).toContain('command #1');
  const tail = (await b.page.locator('#failure-log').textContent())!.split('\n');
  expect(tail.length).toBe(20);
  expect(tail.at(-1)).toBe('boom: disk on fire');
  expect(tail[0]).toBe('line 12');
  expect(await b.page.locator('#failure a', { hasText: 'Full log' }).getAttribute('href')).toBe(`#/job/${broken.id}`);
  expect(await nullTexts(b.page)).toEqual([]);
  // the DAG: the failed stage's succeeded job has its own (green) dot; the failed one shows its exit code
  expect(await b.page.locator('svg.dag g.stage').first().getAttribute('class')).toContain('st-failed');
  const colour = (id: string) => b.page.locator(`svg.dag a[data-id="${id}"] circle.dot`).evaluate((c) => getComputedStyle(c).fill);
  expect(await colour(fine.id)).toBe('rgb(31, 138, 59)');
  expect(await colour(broken.id)).toBe('rgb(198, 40, 40)');
  expect(await textOf(b.page, `svg.dag a[data-id="${broken.id}"] .facts`)).toMatch(/^exit 3 · [\d.]+ (ms|s)$/);
  expect(await textOf(b.page, `svg.dag a[data-id="${fine.id}"] .facts`)).toMatch(/^[\d.]+ (ms|s)$/);
  // the timeline: one bar per job that ran, the broken one red and longer than the fine one
  expect(await b.page.locator('#timeline .tl-row').count()).toBe(2);
  const w = async (id: string) => (await b.page.locator(`#timeline .tl-row[data-id="${id}"] .tl-run`).boundingBox())!.width;
  expect(await w(broken.id)).toBeGreaterThan(await w(fine.id));
  expect(await b.page.locator(`#timeline .tl-row[data-id="${broken.id}"] .tl-run`).getAttribute('class')).toContain('st-failed');
  await b.shot('run-failed');
  // the same on a phone: the summary is on screen, the page does not scroll sideways (the DAG scrolls inside)
  await b.page.setViewportSize({ width: 390, height: 844 });
  await Bun.sleep(200);
  const fbox = (await b.page.locator('#failure').boundingBox())!;
  expect(fbox.x + fbox.width).toBeLessThanOrEqual(390);
  expect(fbox.y).toBeLessThan(844);
  expect(await b.page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
  await b.shot('run-failed-phone');
  await b.page.setViewportSize({ width: 1280, height: 800 });
  // the job page: its commands, each with exit code; the failed one opens onto its own log
  await b.page.locator('#failure a', { hasText: 'Full log' }).click();
  await waitText(b.page, 'main h1', 'build/broken');
  expect(await textOf(b.page, 'details.cmd[data-index="0"] summary')).toContain('exit 0');
  expect(await textOf(b.page, 'details.cmd[data-index="1"] summary')).toContain('exit 3');
  await b.page.locator('details.cmd[data-index="1"] summary').click();
  await waitText(b.page, 'details.cmd[data-index="1"] pre', 'boom: disk on fire');
  expect(await b.page.locator('details.cmd[data-index="1"] pre').textContent()).not.toContain('preparing');
  expect(await nullTexts(b.page)).toEqual([]);
  await b.shot('job-failed');
  expect(b.errors).toEqual([]);
}, 60_000);

browserTest('a live job: its elapsed time and log size change while it prints; its commands show their own state', async () => {
  const out = await s.submit({ name: 'web-live', workspace: s.root, stages: [{ name: 'x', jobs: [{ name: 'talk', commands: ['echo warming up', 'for i in $(seq 1 80); do echo "tick $i"; sleep 0.1; done'] }] }] });
  const job = out.run.stages[0].jobs[0].id;
  await go(`#/job/${job}`);
  await waitText(b.page, '#log', 'tick 3');
  // while it runs: the first command's section has its exit code, the second says it is running
  await waitText(b.page, 'details.cmd[data-index="0"] summary', 'exit 0', 5_000);
  expect(await textOf(b.page, 'details.cmd[data-index="1"] summary')).toContain('running');
  expect(await textOf(b.page, 'main h1 .badge')).toBe('running');
  const read = async () => ({ took: await textOf(b.page, '#job-took'), size: await textOf(b.page, '#job-log-size') });
  const first = await read();
  expect(first.took).toContain('running');
  await Bun.sleep(1200);
  const second = await read();
  expect(second.took).not.toBe(first.took);
  expect(second.size).not.toBe(first.size);
  const n = (t: string) => parseFloat(t) * (/\d ms/.test(t) ? 1 : 1000); // "900 ms", "1.5 s"
  expect(n(second.took)).toBeGreaterThan(n(first.took));
  await b.shot('job-live');
  await waitText(b.page, 'main h1 .badge', 'succeeded', 20_000);
  await waitText(b.page, '#job-log-size', `${(await s.api('GET', `/jobs/${job}/logs`)).text.length} B`);
  await b.page.waitForFunction(() => !document.querySelector('#job-took')?.textContent?.includes('running'), undefined, { timeout: 10_000 });
  const frozen = await textOf(b.page, '#job-took');
  await Bun.sleep(700);
  expect(await textOf(b.page, '#job-took')).toBe(frozen); // a finished job's time stops
}, 60_000);

browserTest('job-level matrix jobs fold into one DAG row with a count per status, and unfold on a click', async () => {
  const out = await s.submit({
    name: 'web-fan', workspace: s.root,
    stages: [{ name: 'fit', jobs: [{ name: 'point', matrix: { k: [1, 2, 3, 4, 5] }, allow_failure: true, commands: ['[ ${{ matrix.k }} != 4 ] || exit 7'] }] }],
  }).catch(async (e) => { throw e; });
  const run = await s.waitRun(out.run.id);
  await go(`#/run/${run.id}`);
  const fold = b.page.locator('svg.dag g.fold');
  await fold.waitFor();
  expect(await textOf(b.page, 'svg.dag g.fold .jname')).toBe('point ×5');
  expect(await textOf(b.page, 'svg.dag g.fold .counts')).toMatch(/4✓.*1✗|1✗.*4✓/);
  expect(await b.page.locator('svg.dag a.job').count()).toBe(0);
  await fold.click();
  await b.page.locator('svg.dag a.job').first().waitFor();
  expect(await b.page.locator('svg.dag a.job').count()).toBe(5);
  expect(await b.page.locator('svg.dag a.job.st-failed').count()).toBe(1);
  await b.shot('dag-matrix');
  expect(await nullTexts(b.page)).toEqual([]);
  expect(b.errors).toEqual([]);
}, 60_000);
