// Issue 12: an executor's handle is stored with the job and read back by later servers, so it carries the
// executor API version it was written under (`v`). A server never hands an executor a handle from a
// newer API version: the job fails with executor_error naming both versions, instead of being misread.
import { test, expect, afterAll } from 'bun:test';
import { Database } from 'bun:sqlite';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, oneStage, waitFor, TestServer } from '../helpers/server.ts';

const servers: TestServer[] = [];
const pids: number[] = [];
afterAll(async () => {
  for (const s of servers) await s.stop();
  for (const pid of pids) try { process.kill(-pid, 'SIGKILL'); } catch { /* gone */ }
});

test('a stored handle carries its API version; one from a newer version is refused at re-adoption (executor_error), not misread', async () => {
  const s1 = await startServer();
  servers.push(s1);
  const out = await s1.submit(oneStage('handle-version', ['sleep 30'], { workspace: s1.root }));
  const jobId = out.run.stages[0].jobs[0].id;
  const job = await waitFor(async () => { const j = (await s1.api('GET', `/jobs/${jobId}`)).body; return j.status === 'running' && j; }, { what: 'the job to run' });
  const pid = await waitFor(() => { try { return Number(/__DROVER_PID=(\d+)/.exec(readFileSync(join(job.dir, 'job.out'), 'utf8'))?.[1]) || false; } catch { return false; } }, { what: 'the runner to start' });
  pids.push(pid);
  const db = () => new Database(join(s1.dataDir, 'drover.db'));
  const stored = await waitFor(() => { const d = db(); try { return (d.query('SELECT handle FROM jobs WHERE id = ?').get(jobId) as { handle: string | null }).handle; } finally { d.close(); } }, { what: 'the handle to be stored' });
  expect(JSON.parse(stored)).toMatchObject({ executor: 'local', v: 1 });
  s1.kill9();
  await s1.proc.exited;
  const d = db();
  d.query('UPDATE jobs SET handle = ? WHERE id = ?').run(JSON.stringify({ ...JSON.parse(stored), v: 99 }), jobId);
  d.close();
  const s2 = await new TestServer(s1.root, s1.dataDir, s1.args).start();
  servers.push(s2);
  const run = await s2.waitRun(out.run.id);
  expect(run.status).toBe('failed');
  const j = (await s2.api('GET', `/jobs/${jobId}`)).body;
  expect(j.reason).toBe('executor_error');
  expect(j.message).toContain('version 99');
  expect(j.message).toContain('version 1');
}, 60_000);

test('the guard: handles it returns are stamped; poll never passes a newer handle on (that job is lost, the others polled); cancel refuses it', async () => {
  const { guardExecutor } = await import('../../src/plugins/guard.ts');
  const polled: unknown[] = [];
  const impl = {
    detect: async () => ({ available: true, slots: 1 }),
    start: async () => ({ executor: 'x', dir: '/d', commandCount: 1 }),
    poll: async (hs: { jobId: string; attempt: number; handle: unknown }[]) => { polled.push(...hs.map((h) => h.handle)); return hs.map((h) => ({ jobId: h.jobId, attempt: h.attempt, state: 'running' as const })); },
    cancel: async () => {},
  };
  const log = { info() {}, warn() {}, error() {}, debug() {}, scope() { return log; } };
  const { executor } = guardExecutor(impl as never, { name: 'fake', timeoutMs: 1000, log: () => log as never, apiVersion: 2 });
  expect(await executor.start({} as never)).toEqual({ executor: 'fake', dir: '/d', commandCount: 1, v: 2 });
  const old = { executor: 'fake', dir: '/a', commandCount: 1 }; // no v: written before versions (1)
  const newer = { executor: 'fake', dir: '/b', commandCount: 1, v: 3 };
  const obs = await executor.poll([{ jobId: 'a', attempt: 1, handle: old }, { jobId: 'b', attempt: 1, handle: newer }]);
  expect(polled).toEqual([old]);
  expect(obs).toContainEqual({ jobId: 'a', attempt: 1, state: 'running' });
  const lost = obs.find((o) => o.jobId === 'b') as { state: string; lostReason?: string };
  expect(lost.state).toBe('exited');
  expect(lost.lostReason).toMatch(/^executor_error: .*version 3.*version 2/);
  await expect(executor.cancel(newer, { graceMs: 0 })).rejects.toThrow(/version 3/);
  await executor.cancel(old, { graceMs: 0 });
});
