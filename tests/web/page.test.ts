// The web page in real headless Chromium against a real server: token entry, runs list, a run's
// DAG and a job's log updating live (no reload), `why` for a blocked job, group pause/resume/cancel
// and run cancel through the buttons, and the phone width. Screenshots go to <test root>/shots.
import { expect, beforeAll, afterAll } from 'bun:test';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, waitFor, type TestServer } from '../helpers/server.ts';
import { storedLog } from '../ws/helpers.ts';
import { openBrowser, browserTest, SKIP_BROWSER, login, textOf, waitText, type Browser } from './helpers.ts';

let s: TestServer;
let b: Browser;
beforeAll(async () => {
  if (SKIP_BROWSER) return;
  s = await startServer(['--max-parallel', '1']);
  b = await openBrowser(join(s.root, 'shots'));
});
afterAll(async () => { await b?.close(); await s?.stop(); });

const go = (hash: string) => b.page.evaluate((h) => { location.hash = h; }, hash);
const cls = (sel: string) => b.page.locator(sel).first().getAttribute('class');
const waitClass = (sel: string, status: string, timeout = 20_000) =>
  b.page.waitForFunction(([q, st]) => (document.querySelector(q as string)?.getAttribute('class') ?? '').includes(`st-${st}`), [sel, status] as const, { timeout, polling: 100 });

browserTest('the token form, then the runs list with live status', async () => {
  await b.page.goto(`${s.url}/`);
  await waitText(b.page, 'main', 'API token');
  expect(await b.page.locator('#token').isVisible()).toBe(true);
  await b.shot('token-form');
  await b.page.locator('#token').fill('drv_wrong');
  await b.page.locator('form.token button[type=submit]').click();
  await waitText(b.page, 'form.token .error', 'refused');
  await b.shot('token-refused');
  await login(b, s);
  await waitText(b.page, 'main h1', 'Runs');
  expect(await b.page.evaluate(() => localStorage.getItem('drover.token'))).toBe(s.token);
  await b.page.reload(); // the token stays in this browser
  await waitText(b.page, 'main h1', 'Runs');
  await b.page.locator('#conn.on').waitFor({ timeout: 10_000 });
  const out = await s.submit({ name: 'web-list', workspace: s.root, stages: [{ name: 'only', jobs: [{ name: 'j', commands: ['sleep 0.5'] }] }] });
  const row = `tr[data-id="${out.run.id}"]`;
  await b.page.locator(row).waitFor({ timeout: 10_000 }); // appears without a reload
  await waitText(b.page, `${row} .badge`, 'succeeded');
  expect(await textOf(b.page, row)).toContain('web-list');
  await b.shot('runs-list');
}, 60_000);

browserTest('a running run: its DAG and its job log update live', async () => {
  const gate = join(s.root, 'gate-dag');
  const spec = {
    name: 'web-dag', workspace: s.root,
    stages: [
      { name: 'build', jobs: [{ name: 'compile', commands: [`echo "compiling ✓"; while [ ! -e ${gate} ]; do sleep 0.05; done; for i in $(seq 1 20); do echo "step $i"; sleep 0.05; done`] }] },
      { name: 'test', needs: ['build'], jobs: [{ name: 'unit', commands: ['echo unit ok'] }, { name: 'lint', commands: ['echo lint ok'] }] },
      { name: 'ship', needs: ['test'], jobs: [{ name: 'upload', commands: ['echo shipped'] }] },
    ],
  };
  const out = await s.submit(spec);
  const run = out.run;
  const compile = run.stages[0].jobs[0].id;
  await go(`#/run/${run.id}`);
  await b.page.locator('svg.dag').waitFor();
  await b.page.evaluate(() => { (window as any).__sameDocument = true; });
  await waitClass(`svg.dag [data-id="${compile}"]`, 'running');
  expect(await b.page.locator('svg.dag g.stage').count()).toBe(3);
  expect(await b.page.locator('svg.dag path.edge').count()).toBe(2);
  expect(await cls(`svg.dag [data-id="${run.stages[1].id}"]`)).toContain('st-pending');
  expect(await textOf(b.page, 'main h1')).toContain('running');
  await b.shot('dag-running');

  // the job's log, live: the first line now, the rest once the gate opens
  await b.page.locator(`svg.dag a[data-id="${compile}"]`).click();
  await waitText(b.page, '#log', 'compiling ✓');
  expect(await textOf(b.page, 'main h1')).toContain('build/compile');
  writeFileSync(gate, '');
  await waitText(b.page, '#log', 'step 20');
  await waitText(b.page, '#log-state', 'end of log');
  expect(await b.page.locator('#log').textContent()).toBe((await storedLog(s, compile)).toString());
  await b.shot('job-log');

  // back to the graph: everything turned green without a reload
  await go(`#/run/${run.id}`);
  for (const st of run.stages) await waitClass(`svg.dag [data-id="${st.id}"]`, 'succeeded');
  await waitText(b.page, 'main h1 .badge', 'succeeded');
  expect(await b.page.evaluate(() => (window as any).__sameDocument)).toBe(true);
  expect(await b.page.locator('svg.dag .st-succeeded').count()).toBe(3 + 4);
  await b.shot('dag-succeeded');
}, 60_000);

browserTest('pause and resume a group with the buttons; a queued job says why; cancel a run and a group', async () => {
  const blocker = await s.submit({ name: 'web-hold', workspace: s.root, stages: [{ name: 'x', jobs: [{ name: 'hold', commands: [`while [ ! -e ${join(s.root, 'gate-hold')} ]; do sleep 0.05; done`] }] }] });
  const sweep = await s.submit({ name: 'web-sweep', workspace: s.root, matrix: { i: [1, 2, 3] }, stages: [{ name: 'x', jobs: [{ name: 'work', commands: ['echo work ${{ params.i }}'] }] }] });
  const gid = sweep.group.id;
  await go('#/queue');
  const row = `#groups .grp[data-id="${gid}"]`;
  await b.page.locator(row).waitFor({ timeout: 10_000 });
  await b.page.locator(`${row} button`, { hasText: 'Pause' }).click();
  await waitText(b.page, `${row} .badge`, 'paused');
  expect((await s.api('GET', `/groups/${gid}`)).body.status).toBe('paused');
  await b.shot('queue-paused');

  // a queued job of the paused group explains itself
  const queuedJob = (await s.api('GET', `/runs/${sweep.runs[0].id}`)).body.stages[0].jobs[0].id;
  await go(`#/job/${queuedJob}`);
  await waitText(b.page, '#why', 'group_paused');
  expect(await textOf(b.page, '#why')).toContain('Why is it not running?');
  await b.shot('why-paused');

  await go('#/queue');
  await b.page.locator(`${row} button`, { hasText: 'Resume' }).click();
  await waitText(b.page, `${row} .badge`, 'running');
  expect((await s.api('GET', `/groups/${gid}`)).body.status).toBe('running');

  // cancel one run of the sweep from its page, then the whole group from the queue
  await go(`#/run/${sweep.runs[0].id}`);
  await b.page.locator('button', { hasText: 'Cancel run' }).click();
  await waitText(b.page, 'main h1 .badge', 'canceled');
  expect((await s.api('GET', `/runs/${sweep.runs[0].id}`)).body.status).toBe('canceled');
  await go('#/queue');
  await b.page.locator(`${row} button`, { hasText: 'Cancel group' }).click();
  await b.page.locator('dialog#confirm button[data-confirm=yes]').click();
  await waitFor(async () => (await s.api('GET', `/groups/${gid}`)).body.status === 'canceled', { what: 'the group to be canceled' });
  writeFileSync(join(s.root, 'gate-hold'), '');
  await s.waitRun(blocker.run.id);
  await b.shot('queue-after');
  expect(b.errors).toEqual([]);
}, 60_000);

browserTest('at phone width (375 px) the page fits: no sideways scrolling of the page, the graph scrolls inside', async () => {
  await b.page.setViewportSize({ width: 375, height: 800 });
  const runs = (await s.api('GET', '/runs?pipeline=web-dag')).body.items;
  await go(`#/run/${runs[0].id}`);
  await b.page.locator('svg.dag').waitFor();
  const widths = await b.page.evaluate(() => ({ doc: document.documentElement.scrollWidth, view: window.innerWidth, dag: (document.querySelector('.dagwrap') as HTMLElement).clientWidth }));
  expect(widths.doc).toBeLessThanOrEqual(widths.view);
  expect(widths.dag).toBeLessThanOrEqual(375);
  expect(await b.page.locator('header nav a', { hasText: 'Queue' }).isVisible()).toBe(true);
  const shot = await b.shot('phone-run');
  expect(existsSync(shot)).toBe(true);
  await go('#/queue');
  await waitText(b.page, 'main h1', 'Queue');
  expect(await b.page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
  await b.shot('phone-queue');
  await b.page.setViewportSize({ width: 1280, height: 800 });
}, 60_000);
