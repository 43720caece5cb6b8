// Issue 14 #1: files a job leaves in its folder are never followed through links. A job that replaces
// its own logs/0.log (or outputs.env, raw/0.log, meta/0.json) with a symbolic or hard link to another
// file gets nothing of that file back — not from GET /jobs/:id/logs (whole job or ?command=N), not
// from the WebSocket tail, not in its outputs — and it fails with reason unsafe_file, a warning line
// standing in its log.
import { test, expect, beforeAll, afterAll } from 'bun:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, oneStage, waitFor, type TestServer } from '../helpers/server.ts';
import { WsClient, joinLog } from '../ws/helpers.ts';

let s: TestServer;
let outside: string;
const OUTSIDE = 'OUTSIDE-FILE-CONTENT-7f3a';
beforeAll(async () => {
  s = await startServer();
  outside = join(s.root, 'outside.txt');
  writeFileSync(outside, `${OUTSIDE}\nLEAK=${OUTSIDE}\n`);
});
afterAll(async () => { await s?.stop(); });

const q = (p: string) => `'${p.replace(/'/g, `'\\''`)}'`;

async function servedEverywhere(jobId: string): Promise<string> {
  const ws = await WsClient.open(s);
  ws.send({ op: 'subscribe', channel: 'logs', job: jobId, offset: 0 });
  await ws.waitFor((m) => m.type === 'eof' && m.job === jobId, { what: 'eof' });
  const tail = joinLog(ws.msgs, jobId).bytes.toString();
  ws.close();
  const whole = (await s.api('GET', `/jobs/${jobId}/logs`)).text;
  const first = (await s.api('GET', `/jobs/${jobId}/logs?command=0`)).text;
  return [tail, whole, first].join('\n---\n');
}

for (const [kind, link] of [['symbolic', 'ln -s'], ['hard', 'ln']] as const) {
  test(`a ${kind} link in place of logs/0.log serves nothing of its target; the job fails unsafe_file`, async () => {
    for (const target of [outside, join(s.dataDir, 'admin.token')]) {
      const cmd = `echo before; rm -f "$DROVER_JOB_DIR/logs/0.log"; ${link} ${q(target)} "$DROVER_JOB_DIR/logs/0.log"`;
      const out = await s.submit(oneStage(`link-${kind}`, [cmd, 'echo second']));
      const job = out.run.stages[0].jobs[0].id;
      const run = await s.waitRun(out.run.id);
      const served = await servedEverywhere(job);
      expect(served).not.toContain(OUTSIDE);
      expect(served).not.toContain(s.token);
      const j = (await s.api('GET', `/jobs/${job}`)).body;
      expect(run.status).toBe('failed');
      expect(j.reason).toBe('unsafe_file');
      expect(j.message).toContain('logs/0.log');
      expect((await s.api('GET', `/jobs/${job}/logs?command=0`)).text).toMatch(/^\[drover: logs\/0\.log .*ignored it\]\n$/);
    }
  }, 60_000);
}

test('a link swapped in while the job runs is not served by GET or the live tail', async () => {
  const cmd = `echo before; rm -f "$DROVER_JOB_DIR/logs/0.log"; ln -s ${q(outside)} "$DROVER_JOB_DIR/logs/0.log"; sleep 2`;
  const out = await s.submit(oneStage('link-live', [cmd]));
  const job = out.run.stages[0].jobs[0].id;
  const ws = await WsClient.open(s);
  ws.send({ op: 'subscribe', channel: 'logs', job, offset: 0 });
  let sawRunning = 0;
  let servedWhileRunning = '';
  await waitFor(async () => {
    const j = (await s.api('GET', `/jobs/${job}`)).body;
    if (j.status === 'running') {
      sawRunning++;
      servedWhileRunning += (await s.api('GET', `/jobs/${job}/logs`)).text + (await s.api('GET', `/jobs/${job}/logs?command=0`)).text;
    }
    return j.status !== 'running' && j.status !== 'queued' && j.status !== 'pending';
  }, { intervalMs: 100, timeoutMs: 30_000 });
  expect(sawRunning).toBeGreaterThan(3);
  expect(servedWhileRunning).not.toContain(OUTSIDE);
  await ws.waitFor((m) => m.type === 'eof', { what: 'eof' });
  expect(joinLog(ws.msgs, job).bytes.toString()).not.toContain(OUTSIDE);
  ws.close();
});

test('outputs.env and meta/0.json as links are ignored (no outputs from the target); the job fails unsafe_file', async () => {
  const cmd = `ln -s ${q(outside)} "$DROVER_OUTPUT"; true`;
  const out = await s.submit(oneStage('link-outputs', [cmd]));
  const run = await s.waitRun(out.run.id);
  const job = run.stages[0].jobs[0];
  expect(JSON.stringify(job.outputs ?? {})).not.toContain(OUTSIDE);
  expect(JSON.stringify(run)).not.toContain(OUTSIDE);
  expect(job.reason).toBe('unsafe_file');
  expect(job.message).toContain('outputs.env');
});

test('a job with secrets that links raw/0.log elsewhere gets nothing of the target into its stored log', async () => {
  await s.api('PUT', '/secrets/RAWTOK', { value: 'raw-link-secret-123456' });
  const cmd = `rm -f "$DROVER_JOB_DIR/raw/0.log"; ln -s ${q(outside)} "$DROVER_JOB_DIR/raw/0.log"`;
  const out = await s.submit(oneStage('link-raw', [cmd, 'sleep 0.5; echo two'], { secrets: ['RAWTOK'] }));
  const job = out.run.stages[0].jobs[0].id;
  const run = await s.waitRun(out.run.id);
  const served = await servedEverywhere(job);
  expect(served).not.toContain(OUTSIDE);
  expect(served).toContain('two');
  expect(run.status).toBe('failed');
  expect((await s.api('GET', `/jobs/${job}`)).body.reason).toBe('unsafe_file');
});
