// Issue 14 #8: a job that exits while the server is down keeps the end time its runner recorded (the
// last command's meta), for the job and its attempt — the outage is not added to its duration.
import { test, expect, afterAll } from 'bun:test';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, oneStage, waitFor, TestServer } from '../helpers/server.ts';

const servers: TestServer[] = [];
afterAll(async () => { for (const s of servers) await s.stop(); });

test('ended_at of a job that exited during an outage is the runner\'s, not the restart\'s', async () => {
  const s1 = await startServer();
  servers.push(s1);
  const out = await s1.submit(oneStage('end-time', ['sleep 1; echo done'], { workspace: s1.root }));
  const jobId = out.run.stages[0].jobs[0].id;
  const job = await waitFor(async () => { const j = (await s1.api('GET', `/jobs/${jobId}`)).body; return j.status === 'running' && j; }, { what: 'the job to run' });
  // 'running' is committed before the spawn: kill only once the runner has really started
  await waitFor(() => { try { return readFileSync(join(job.dir, 'job.out'), 'utf8').includes('__DROVER_PID='); } catch { return false; } }, { what: 'the runner to start' });
  s1.kill9();
  await s1.proc.exited;
  const meta = join(job.dir, 'meta', '0.json');
  await waitFor(() => existsSync(meta) && readFileSync(meta, 'utf8').includes('ended_at'), { what: 'the runner to record its end' });
  const runnerEnd = JSON.parse(readFileSync(meta, 'utf8')).ended_at * 1000;
  await Bun.sleep(3000); // the outage
  const s2 = await new TestServer(s1.root, s1.dataDir, s1.args).start();
  servers.push(s2);
  const run = await s2.waitRun(out.run.id);
  expect(run.status).toBe('succeeded');
  const j = (await s2.api('GET', `/jobs/${jobId}`)).body;
  for (const ended of [j.ended_at, j.attempts.at(-1).ended_at, j.commands?.[0]?.ended_at].filter(Boolean)) {
    expect(Math.abs(Date.parse(ended) - runnerEnd)).toBeLessThan(1000);
  }
  expect(Math.abs(Date.parse(j.ended_at) - runnerEnd)).toBeLessThan(1000);
  expect(Math.abs(Date.parse(j.attempts.at(-1).ended_at) - runnerEnd)).toBeLessThan(1000);
}, 60_000);
