// Gauntlet G7: a page left open while the server goes away warns about it (server unreachable, then
// a stale heartbeat), and when a server comes back on the same data dir and port it reattaches by
// itself: the WebSocket reconnects, the job's log resumes from its byte offset (no gap, no
// duplicate: it ends equal to the stored log) and the statuses catch up — all without a reload.
import { expect, afterAll } from 'bun:test';
import { join } from 'node:path';
import { waitFor, type TestServer } from '../helpers/server.ts';
import { storedLog, restartSamePort, startServerLowPort } from '../ws/helpers.ts';
import { openBrowser, browserTest, login, textOf, waitText, type Browser } from './helpers.ts';

const servers: TestServer[] = [];
let b: Browser | undefined;
afterAll(async () => { await b?.close(); for (const s of servers) await s.stop(); });

browserTest('G7: the page warns while the server is gone and reattaches to a restarted server on the same port', async () => {
  const s = await startServerLowPort();
  servers.push(s);
  b = await openBrowser(join(s.root, 'shots'));
  const out = await s.submit({
    name: 'web-g7', workspace: s.root,
    stages: [
      { name: 'long', jobs: [{ name: 'ticker', commands: ['for i in $(seq 1 90); do echo "tick $i ✓"; sleep 0.3; done'] }] },
      { name: 'after', needs: ['long'], jobs: [{ name: 'done', commands: ['echo finished'] }] },
    ],
  });
  const job = out.run.stages[0].jobs[0].id;
  await login(b, s, `#/job/${job}`);
  await waitText(b.page, '#log', 'tick 3 ✓');
  await b.page.evaluate(() => { (window as any).__sameDocument = true; });
  expect(await b.page.locator('#banner').isHidden()).toBe(true);
  await b.shot('live-before');

  // the server goes away (the job, detached, goes on writing its log)
  await s.stop();
  await waitText(b.page, '#banner', 'Server unreachable', 10_000);
  expect(await textOf(b.page, '#conn')).toContain('reconnecting');
  await b.shot('server-unreachable');
  await waitText(b.page, '#banner', 'heartbeat is stale', 25_000);
  expect(await b.page.locator('#banner').isVisible()).toBe(true);
  await b.shot('heartbeat-stale');

  // a new server on the same data dir and port: the page reattaches on its own
  const s2 = await restartSamePort(s);
  servers.push(s2);
  await b.page.locator('#conn.on').waitFor({ timeout: 15_000 });
  await waitFor(() => b!.page.locator('#banner').isHidden(), { what: 'the banner to go away', timeoutMs: 10_000 });
  await waitText(b.page, '#log', 'tick 90 ✓', 40_000);
  await waitText(b.page, '#log-state', 'end of log', 10_000);
  expect(await b.page.locator('#log').textContent()).toBe((await storedLog(s2, job)).toString());
  await waitText(b.page, 'main h1 .badge', 'succeeded');
  await b.shot('reattached-job');

  // the run's graph shows the end state, still the same document (no reload)
  await b.page.evaluate((h) => { location.hash = h; }, `#/run/${out.run.id}`);
  await b.page.locator('svg.dag').waitFor();
  await waitText(b.page, 'main h1 .badge', 'succeeded', 20_000);
  expect(await b.page.locator('svg.dag .st-succeeded').count()).toBe(2 + 2);
  expect(await b.page.evaluate(() => (window as any).__sameDocument)).toBe(true);
  await b.shot('reattached-run');
  expect(b.errors).toEqual([]);
}, 120_000);
