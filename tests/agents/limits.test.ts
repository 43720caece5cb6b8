// Graceful shutdown and per-token rate limits.
import { test, expect, afterEach } from 'bun:test';
import { mkdirSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, waitFor, TestServer } from '../helpers/server.ts';

let servers: TestServer[] = [];
afterEach(async () => { for (const s of servers) await s.stop(); servers = []; });

test('SIGTERM: the server exits within seconds, its running job keeps going and the next server adopts it', async () => {
  const s = await startServer(['--max-parallel', '2']);
  servers.push(s);
  const ws = join(s.root, 'ws-term');
  mkdirSync(ws);
  const { run } = await s.submit({ name: 'survives', workspace: ws, stages: [{ name: 'a', jobs: [{ name: 'j', commands: ['echo start >> marks; sleep 2; echo done >> marks'] }] }] });
  await waitFor(() => existsSync(join(ws, 'marks')), { what: 'the job to start' });
  s.proc.kill('SIGTERM');
  const code = await Promise.race([s.proc.exited, Bun.sleep(5000).then(() => 'still running')]);
  expect(code).toBe(0);
  const next = await new TestServer(s.root, s.dataDir, ['--max-parallel', '2']).start();
  servers.push(next);
  const done = await next.waitRun(run.id);
  expect(done.status).toBe('succeeded');
  expect(readFileSync(join(ws, 'marks'), 'utf8')).toBe('start\ndone\n'); // ran once, finished while no server watched
});

test('past its rate limit a token gets 429 with Retry-After; agent heartbeats are never limited', async () => {
  const s = await startServer(['--rate-limit', '2']);
  servers.push(s);
  const codes: number[] = [];
  let retryAfter: string | null = null;
  for (let i = 0; i < 20; i++) {
    const r = await s.api('GET', '/queue');
    codes.push(r.status);
    if (r.status === 429) retryAfter = r.headers.get('retry-after');
  }
  expect(codes).toContain(429);
  expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
  const limited = await s.api('GET', '/queue');
  expect(limited.body.error?.code ?? 'ok').toBe('rate_limited');
  // heartbeats and completions pass even when the token is over its limit (they get 409: no lease here)
  for (let i = 0; i < 10; i++) expect((await s.api('POST', '/jobs/j_none/heartbeat', { lease_token: 'x' })).status).not.toBe(429);
});
