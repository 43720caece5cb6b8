// A clean stop (SIGTERM/SIGINT): the server stops taking work, closes WebSockets with 1001 (going
// away), flushes, releases the data dir, logs one line and exits 0 within --shutdown-grace, while its
// 20 running jobs keep running; the next serve re-adopts them without "taking over from a dead server"
// and each finishes exactly once. A second signal during a stop that waits exits at once.
import { test, expect, afterAll } from 'bun:test';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { startServer, waitFor, TestServer } from '../helpers/server.ts';
import { WsClient } from '../ws/helpers.ts';

const servers: TestServer[] = [];
afterAll(async () => { for (const s of servers) await s.stop(); });

test('SIGTERM during 20 running jobs: exit 0 with one line, WebSockets get 1001, the next serve re-adopts every job and each finishes once', async () => {
  const s = await startServer(['--max-parallel', '20', '--shutdown-grace', '20s']);
  servers.push(s);
  const gate = join(s.root, 'gate');
  const done = join(s.root, 'done.txt');
  const jobs = Array.from({ length: 20 }, (_, i) => ({
    name: `j${i}`,
    commands: [`while [ ! -e ${gate} ]; do sleep 0.2; done; echo "$DROVER_JOB_ID" >> ${done}`],
  }));
  const sub = await s.submit({ name: 'twenty', stages: [{ name: 'main', jobs }] });
  await s.waitRun(sub.run.id, (r) => r.stages[0].jobs.every((j: any) => j.status === 'running'), 60_000);
  const ws = await WsClient.open(s);
  ws.send({ type: 'subscribe', channel: 'status', run: sub.run.id });

  s.proc.kill('SIGTERM');
  const code = await s.proc.exited;
  expect(code).toBe(0); // a stop past the grace exits 1
  const closed = await ws.waitClosed(5_000);
  expect(closed.code).toBe(1001);
  await Bun.sleep(100); // the last stderr bytes
  const lines = s.stderr.split('\n').filter((l) => l.includes('"stopped cleanly"'));
  expect(lines.length).toBe(1);
  expect(JSON.parse(lines[0]!)).toMatchObject({ signal: 'SIGTERM', jobs_left_running: 20, data_dir_released: true });
  expect(existsSync(join(s.dataDir, 'server.json'))).toBe(false);

  const next = await new TestServer(s.root, s.dataDir, s.args).start();
  servers.push(next);
  writeFileSync(gate, '');
  const run = await next.waitRun(sub.run.id, undefined, 60_000);
  expect(next.stderr).not.toContain('dead server');
  expect(run.status).toBe('succeeded');
  expect(run.stages[0].jobs.map((j: any) => [j.status, j.attempt])).toEqual(jobs.map(() => ['succeeded', 1]));
  const ids = readFileSync(done, 'utf8').trim().split('\n').sort();
  expect(ids).toEqual(run.stages[0].jobs.map((j: any) => j.id).sort()); // each job ran its command once
}, 180_000);

test('a second signal while the stop waits for a request in flight exits at once', async () => {
  const s = await startServer(['--shutdown-grace', '60s']);
  servers.push(s);
  // a request whose body never finishes: the stop waits for it (up to the grace)
  const { hostname, port } = new URL(s.url);
  const sock = connect(Number(port), hostname);
  await new Promise<void>((r) => sock.once('connect', () => r()));
  sock.write(`POST /api/v1/runs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${s.token}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"spec":`);
  await Bun.sleep(300);
  s.proc.kill('SIGTERM');
  await Bun.sleep(1_500);
  expect(s.proc.exitCode).toBe(null); // still finishing the request in flight
  s.proc.kill('SIGTERM');
  const code = await waitFor(() => s.proc.exitCode !== null && { code: s.proc.exitCode }, { timeoutMs: 10_000, what: 'the server to exit' });
  sock.destroy();
  expect(code.code).toBe(1);
  expect(s.stderr).toContain('second signal');
}, 60_000);
