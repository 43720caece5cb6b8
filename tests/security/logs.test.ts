// The stored log of jobs with secrets (#7): a job is final only once its redacted log is complete;
// a server killed mid-job resumes the copy exactly (no gap, no duplicate, nothing unredacted); and
// the per-job log cap (--max-log-size) keeps the head with one marker line — through the copier for
// jobs with secrets, by truncation at the end for jobs without.
import { test, expect, afterEach } from 'bun:test';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, waitFor, oneStage, TestServer } from '../helpers/server.ts';
import { WsClient, joinLog } from '../ws/helpers.ts';
import { expectNoLeak } from './helpers.ts';

let servers: TestServer[] = [];
afterEach(async () => { for (const s of servers) await s.stop(); servers = []; });
const server = async (args: string[] = []) => { const s = await startServer(['--max-parallel', '2', ...args]); servers.push(s); return s; };
const VALUE = 'log-secret-VALUE-1234';

test('a job with secrets is final only once every redacted byte is stored (and the WebSocket eof comes after them)', async () => {
  const s = await server();
  await s.api('PUT', '/secrets/TOK', { value: VALUE });
  const lines = 150_000;
  const out = await s.submit(oneStage('burst', [`yes "x $TOK" | head -n ${lines}`], { secrets: ['TOK'] }));
  const job = out.run.stages[0].jobs[0].id;
  const ws = await WsClient.open(s);
  ws.send({ op: 'subscribe', channel: 'logs', job, offset: 0 });
  const want = 'x [REDACTED:TOK]\n'.repeat(lines);
  // the moment the job reads as succeeded, its stored log is complete
  const done = await waitFor(async () => { const j = (await s.api('GET', `/jobs/${job}`)).body; return j.status === 'succeeded' && j; }, { intervalMs: 5 });
  const stored = await s.api('GET', `/jobs/${job}/logs`);
  expect(stored.headers.get('x-log-size')).toBe(String(want.length));
  expect(done.commands[0].log_size).toBe(want.length);
  expect(stored.text === want).toBe(true);
  await ws.waitFor((m) => m.type === 'eof');
  expect(joinLog(ws.msgs, job).bytes.toString() === want).toBe(true);
  ws.close();
});

test('kill -9 of the server mid-job: the next server resumes the copy with no gap, no duplicate and nothing unredacted', async () => {
  let s = await server();
  await s.api('PUT', '/secrets/TOK', { value: VALUE });
  const n = 40;
  const out = await s.submit(oneStage('resume', [`for i in $(seq 1 ${n}); do printf 'line %d %s' "$i" "\${TOK:0:5}"; sleep 0.05; printf '%s\\n' "\${TOK:5}"; done`], { secrets: ['TOK'] }));
  const job = out.run.stages[0].jobs[0];
  await waitFor(async () => ((await s.api('GET', `/jobs/${job.id}/logs`)).text.match(/\n/g)?.length ?? 0) >= 5, { what: 'some copied lines' });
  s.kill9();
  await s.proc.exited;
  await Bun.sleep(800); // the job prints on while no server copies
  servers = [];
  s = await new TestServer(s.root, s.dataDir, s.args).start();
  servers.push(s);
  const run = await s.waitRun(out.run.id);
  expect(run.status).toBe('succeeded');
  const want = Array.from({ length: n }, (_, i) => `line ${i + 1} [REDACTED:TOK]\n`).join('');
  expect((await s.api('GET', `/jobs/${job.id}/logs`)).text).toBe(want);
  expectNoLeak(readFileSync(join(job.dir, 'logs', '0.log')), VALUE, 'stored log');
  expect(existsSync(join(job.dir, 'raw'))).toBe(false);
  expect(existsSync(join(job.dir, 'raw.progress'))).toBe(false);
});

test('--max-log-size: the head of the log and one marker line, with or without secrets', async () => {
  const s = await server(['--max-log-size', '20000']);
  await s.api('PUT', '/secrets/TOK', { value: VALUE });
  const cmds = ['for i in $(seq 1 2000); do echo "first $i"; done', 'for i in $(seq 1 2000); do echo "second $i $TOK"; done', 'echo after'];
  for (const secrets of [[], ['TOK']]) {
    const out = await s.submit(oneStage(`capped-${secrets.length}`, cmds, { secrets }));
    const run = await s.waitRun(out.run.id);
    expect(run.status).toBe('succeeded');
    const job = run.stages[0].jobs[0];
    const log = (await s.api('GET', `/jobs/${job.id}/logs`)).text;
    const head = log.slice(0, 20000);
    expect(head.startsWith('first 1\nfirst 2\n')).toBe(true);
    expect(log.slice(20000)).toMatch(/^\n\[drover: the log reached --max-log-size \(20000 bytes\); the rest of the output was dropped\]\n$/);
    expect(log.match(/\[drover: the log reached/g)!.length).toBe(1);
    expect(log).not.toContain('after');
    expect(job.commands.reduce((a: number, c: any) => a + c.log_size, 0)).toBe(log.length);
    expectNoLeak(log, VALUE, `capped log (secrets: ${secrets.length})`);
  }
});
