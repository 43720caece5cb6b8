// The page's queue view shows allocation queues (real Chromium, real server, the real Slurm test
// cluster for `alloc add`'s sbatch --test-only and sinfo): each queue with its state, shape, pause reason
// and allocations.
import { expect, beforeAll, afterAll } from 'bun:test';
import { join } from 'node:path';
import { startServer, type TestServer } from '../helpers/server.ts';
import { loadClusterEnv } from '../helpers/cluster.ts';
import { test } from 'bun:test';
import { openBrowser, browserTest, SKIP_BROWSER, login, waitText, type Browser } from './helpers.ts';

/** `alloc add` asks the real Slurm (sbatch --test-only): skipped with the other real-Slurm tests */
const SKIP = SKIP_BROWSER || process.env.DROVER_TEST_SKIP_SLURM === '1';
const pageTest = process.env.DROVER_TEST_SKIP_SLURM === '1' ? test.skip : browserTest;
if (process.env.DROVER_TEST_SKIP_SLURM === '1') console.warn('[alloc-page.test] DROVER_TEST_SKIP_SLURM=1: the allocation-queue page test is skipped ON PURPOSE');

let s: TestServer;
let b: Browser;
beforeAll(async () => {
  if (SKIP) return;
  loadClusterEnv();
  s = await startServer(['--max-parallel', '1'], { env: { SLURM_CONF: process.env.SLURM_CONF ?? '' } });
  b = await openBrowser(join(s.root, 'shots'));
});
afterAll(async () => { await b?.close(); await s?.stop(); });

pageTest('the queue view lists allocation queues with their state and reason', async () => {
  const add = await s.api('POST', '/alloc/queues', { pool: 'webp', time: '5m', max_allocs: 3 });
  expect(add.status).toBe(201);
  expect((await s.api('POST', '/alloc/queues/webp/pause')).status).toBe(200);
  await login(b, s, '#/queue');
  await waitText(b.page, 'main', 'Allocation queues');
  const q = b.page.locator('.alloc-queue[data-queue="webp"]');
  await q.waitFor({ timeout: 10_000 });
  const text = await q.innerText();
  expect(text).toContain('pool webp');
  expect(text).toContain('max 3 alive');
  expect(text).toContain('1 CPU / 0 GPU per node (node: 2 CPU, 2 GPU)'); // the test cluster's node
  expect(text).toContain('paused by hand');
  expect(text).toContain('No allocations yet');
  expect(await q.locator('.badge').first().getAttribute('data-status')).toBe('paused');
  await b.shot('alloc-queue');
  expect(b.errors).toEqual([]);
});
