import { test, expect, afterAll } from 'bun:test';
import { startServer, oneStage, type TestServer } from '../helpers/server.ts';

let s: TestServer;
afterAll(() => s?.stop());

test('a one-command pipeline runs to succeeded with its log stored', async () => {
  s = await startServer(['--max-parallel', '2']);
  const out = await s.submit(oneStage('hello', ['echo hello from drover']));
  const run = await s.waitRun(out.run.id);
  expect(run.status).toBe('succeeded');
  const job = run.stages[0].jobs[0];
  const log = await s.api('GET', `/jobs/${job.id}/logs`);
  expect(log.text).toBe('hello from drover\n');
  expect(log.headers.get('x-log-size')).toBe(String('hello from drover\n'.length));
});
