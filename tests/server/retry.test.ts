// POST /runs/:id/retry re-opens a finished run in place: what succeeded is kept, failed and skipped
// parts run again with a new attempt.
import { test, expect, afterAll } from 'bun:test';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, type TestServer } from '../helpers/server.ts';

let s: TestServer;
afterAll(() => s?.stop());

test('retry re-runs only the failed stage and its dependents; the succeeded stage is kept', async () => {
  s = await startServer(['--max-parallel', '2']);
  const ws = join(s.root, 'ws-retry');
  mkdirSync(ws);
  const spec = {
    name: 'retry-me', workspace: ws,
    stages: [
      { name: 'build', jobs: [{ name: 'b', commands: ['echo built >> build.count', 'echo rev=7 >> $DROVER_OUTPUT'] }] },
      // fails on its first attempt only
      { name: 'test', needs: ['build'], jobs: [{ name: 't', commands: ['echo x >> test.count; [ $(wc -l < test.count) -ge 2 ]'] }] },
      { name: 'deploy', needs: ['test'], jobs: [{ name: 'd', commands: ['echo deployed, attempt $DROVER_ATTEMPT'] }] },
    ],
  };
  const { run } = await s.submit(spec);
  const failed = await s.waitRun(run.id);
  expect(failed.status).toBe('failed');
  expect(failed.stages.map((st: any) => st.status)).toEqual(['succeeded', 'failed', 'skipped']);

  const r = await s.api('POST', `/runs/${run.id}/retry`);
  expect(r.status).toBe(200);
  const done = await s.waitRun(run.id, (x) => x.status === 'succeeded' || (x.status === 'failed' && x.ended_at !== failed.ended_at));
  expect(done.status).toBe('succeeded');
  expect(done.stages.map((st: any) => st.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
  const [build, testStage, deploy] = done.stages.map((st: any) => st.jobs[0]);
  expect(build.attempt).toBe(1);
  expect(testStage.attempt).toBe(2);
  expect(deploy.attempt).toBe(1); // skipped before: it never ran
  expect(readFileSync(join(ws, 'build.count'), 'utf8')).toBe('built\n'); // not run again
  expect(readFileSync(join(ws, 'test.count'), 'utf8')).toBe('x\nx\n');
  expect(done.stages[0].outputs).toEqual({ rev: '7' });

  const again = await s.api('POST', `/runs/${run.id}/retry`);
  expect(again.status).toBe(409); // a succeeded run is final
});
