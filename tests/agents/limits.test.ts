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

test('an agent\'s uploads stop at --max-log-size with one marker line; later chunks are acknowledged and dropped', async () => {
  const s = await startServer(['--max-log-size', '1000']);
  servers.push(s);
  const agent = (await s.api('POST', '/tokens', { role: 'agent' })).body.token;
  const { run } = await s.submit({ name: 'loud-agent', stages: [{ name: 'm', jobs: [{ name: 'j', executor: 'agent', commands: ['yes', 'yes'] }] }] });
  const jobId = run.stages[0].jobs[0].id;
  const claim = await s.api('POST', '/agents/claim', { agent: 'a', wait_s: 5 }, { token: agent });
  expect(claim.status).toBe(200);
  const lease = claim.body.lease.token;
  const send = async (command: number, offset: number, body: string) => {
    const r = await fetch(`${s.url}/api/v1/jobs/${jobId}/logs?command=${command}&offset=${offset}`, { method: 'POST', headers: { authorization: `Bearer ${agent}`, 'x-lease-token': lease }, body });
    return { status: r.status, body: await r.json() as { size: number; capped?: boolean } };
  };
  const line = 'y'.repeat(99) + '\n'; // 100 bytes
  expect(await send(0, 0, line.repeat(6))).toEqual({ status: 200, body: { size: 600 } });
  expect(await send(0, 0, line.repeat(6))).toEqual({ status: 200, body: { size: 600 } }); // a resend is stored once
  expect(await send(0, 600, line.repeat(6))).toEqual({ status: 200, body: { size: 1200, capped: true } });
  expect(await send(0, 1200, line.repeat(6))).toEqual({ status: 200, body: { size: 1800, capped: true } });
  expect(await send(1, 0, line)).toEqual({ status: 200, body: { size: 100, capped: true } }); // the cap is per job
  const done = await s.api('POST', `/jobs/${jobId}/complete`, { lease_token: lease, commands: [{ exit_code: 0 }, { exit_code: 0 }] }, { token: agent });
  expect(done.status).toBe(200);
  const log = (await s.api('GET', `/jobs/${jobId}/logs?command=0`)).text;
  expect(log.startsWith(line.repeat(10))).toBe(true);
  expect(log.slice(1000)).toMatch(/^\n\[drover: the log reached --max-log-size \(1000 bytes\); the rest of the output was dropped\]\n$/);
  expect((await s.api('GET', `/jobs/${jobId}/logs?command=1`)).text).toBe('');
});
