// Remote agents: claims race safely, leases fence late completions, log chunks are idempotent by
// offset, an agent killed mid-job loses its lease and the job runs again (attempt 2) elsewhere.
import { test, expect, afterEach } from 'bun:test';
import { mkdirSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Subprocess } from 'bun';
import { startServer, waitFor, DROVER_CMD, type TestServer } from '../helpers/server.ts';

let servers: TestServer[] = [];
let agents: Subprocess[] = [];
afterEach(async () => {
  for (const a of agents) { try { a.kill('SIGCONT'); a.kill('SIGKILL'); } catch { /* gone */ } }
  for (const s of servers) await s.stop();
  servers = []; agents = [];
});

async function server(args: string[] = []) {
  const s = await startServer(['--max-parallel', '2', '--lease-ttl', '1500ms', ...args]);
  servers.push(s);
  const t = await s.api('POST', '/tokens', { role: 'agent', name: 'test-agent' });
  expect(t.status).toBe(201);
  return { s, agentToken: t.body.token as string };
}

const agentJob = (name: string, commands: string[], extra: object = {}) =>
  ({ name, stages: [{ name: 'main', jobs: [{ name: 'job', executor: 'agent', commands }] }], ...extra });

function startAgent(s: TestServer, token: string, name: string) {
  const file = join(s.root, `${name}.token`);
  writeFileSync(file, token, { mode: 0o600 });
  const p = Bun.spawn([...DROVER_CMD, 'agent', '--server', s.url, '--token-file', file, '--name', name, '--work-dir', join(s.root, `agent-${name}`)], { stdout: 'ignore', stderr: 'ignore' });
  agents.push(p);
  return p;
}

test('two agents racing for one job: exactly one claim wins', async () => {
  const { s, agentToken } = await server();
  await s.submit(agentJob('race', ['echo hi']));
  const claim = () => s.api('POST', '/agents/claim', { agent: 'a', executors: ['agent'], wait_s: 0 }, { token: agentToken });
  const results = await Promise.all([claim(), claim(), claim(), claim()]);
  expect(results.map((r) => r.status).sort()).toEqual([200, 204, 204, 204]);
});

test('an agent token can do nothing but agent endpoints; other roles cannot claim', async () => {
  const { s, agentToken } = await server();
  expect((await s.api('GET', '/runs', undefined, { token: agentToken })).status).toBe(403);
  expect((await s.api('POST', '/runs', { spec: agentJob('x', ['true']) }, { token: agentToken })).status).toBe(403);
  const reader = (await s.api('POST', '/tokens', { role: 'reader' })).body.token;
  expect((await s.api('POST', '/agents/claim', { agent: 'r' }, { token: reader })).status).toBe(403);
});

test('a completion is accepted once, only with the current lease; log chunks are stored once', async () => {
  const { s, agentToken } = await server();
  const { run } = await s.submit(agentJob('fence', ['echo out'], { retries: { backoff: '100ms' } }));
  const jobId = run.stages[0].jobs[0].id;
  const a = await s.api('POST', '/agents/claim', { agent: 'a', wait_s: 5 }, { token: agentToken });
  expect(a.status).toBe(200);
  const tokenA = a.body.lease.token;
  // duplicate chunks: the same offset twice is stored once
  for (let i = 0; i < 2; i++) {
    const r = await fetch(`${s.url}/api/v1/jobs/${jobId}/logs?command=0&offset=0`, { method: 'POST', headers: { authorization: `Bearer ${agentToken}`, 'x-lease-token': tokenA }, body: 'out\n' });
    expect(r.status).toBe(200);
  }
  expect((await s.api('GET', `/jobs/${jobId}/logs`)).text).toBe('out\n');
  // agent A goes silent past its lease: the job returns to the queue as attempt 2
  await waitFor(async () => (await s.api('GET', `/jobs/${jobId}`)).body.attempt === 2, { what: 'the lease to expire' });
  const b = await s.api('POST', '/agents/claim', { agent: 'b', wait_s: 5 }, { token: agentToken });
  expect(b.status).toBe(200);
  expect(b.body.job.attempt).toBe(2);
  // attempt 2 logs afresh from offset 0; attempt 1's log is kept beside it
  const chunk = await fetch(`${s.url}/api/v1/jobs/${jobId}/logs?command=0&offset=0`, { method: 'POST', headers: { authorization: `Bearer ${agentToken}`, 'x-lease-token': b.body.lease.token }, body: 'second\n' });
  expect(chunk.status).toBe(200);
  expect((await s.api('GET', `/jobs/${jobId}/logs`)).text).toBe('second\n');
  const done = { commands: [{ exit_code: 0 }], outputs: {} };
  const late = await s.api('POST', `/jobs/${jobId}/complete`, { lease_token: tokenA, ...done }, { token: agentToken });
  expect(late.status).toBe(409);
  expect((await s.api('POST', `/jobs/${jobId}/heartbeat`, { lease_token: tokenA }, { token: agentToken })).status).toBe(409);
  const ok = await s.api('POST', `/jobs/${jobId}/complete`, { lease_token: b.body.lease.token, ...done }, { token: agentToken });
  expect(ok.status).toBe(200);
  const again = await s.api('POST', `/jobs/${jobId}/complete`, { lease_token: b.body.lease.token, ...done }, { token: agentToken });
  expect(again.status).toBe(409);
  const final = await s.waitRun(run.id);
  expect(final.status).toBe('succeeded');
  expect(final.stages[0].jobs[0].attempt).toBe(2);
  expect(readFileSync(join(final.stages[0].jobs[0].dir, 'attempt-1', 'logs', '0.log'), 'utf8')).toBe('out\n');
  const metrics = await s.api('GET', '/metrics');
  expect(metrics.text).toMatch(/drover_agent_total\{event="refused_completions"\} 2/);
  expect(metrics.text).toMatch(/drover_reaper_total\{tier="reaped"\} 1/);
});

test('drover agent runs a job end to end: logs shipped, outputs passed, run succeeded', async () => {
  const { s, agentToken } = await server();
  startAgent(s, agentToken, 'one');
  const spec = {
    name: 'via-agent',
    stages: [
      { name: 'a', jobs: [{ name: 'make', executor: 'agent', commands: ['echo "made on $DROVER_JOB_ID attempt $DROVER_ATTEMPT"', 'echo val=42 >> "$DROVER_OUTPUT"'] }] },
      { name: 'b', needs: ['a'], jobs: [{ name: 'use', executor: 'agent', commands: ['echo got ${{ needs.a.outputs.val }}', 'i=0; while [ $i -lt 40000 ]; do i=$((i+1)); done'] }] },
    ],
  };
  const { run } = await s.submit(spec);
  const done = await s.waitRun(run.id);
  expect(done.status).toBe('succeeded');
  const [make, use] = done.stages.map((st: any) => st.jobs[0]);
  expect((await s.api('GET', `/jobs/${make.id}/logs`)).text).toBe(`made on ${make.id} attempt 1\n`);
  expect((await s.api('GET', `/jobs/${use.id}/logs?command=0`)).text).toBe('got 42\n');
  expect(done.stages[0].outputs).toEqual({ val: '42' });
  expect(done.cost.cpu_seconds).toBeGreaterThan(0); // the busy loop, measured by the agent's runner
  expect(done.cost.attempts).toBe(2);
});

test('an agent killed mid-job: the lease expires and another agent runs it again (attempt 2)', async () => {
  const { s, agentToken } = await server();
  const ws = join(s.root, 'ws-kill');
  mkdirSync(ws);
  const { run } = await s.submit(agentJob('killed', [`echo "$DROVER_ATTEMPT" >> ${ws}/attempts; [ "$DROVER_ATTEMPT" -gt 1 ] || sleep 30`], { workspace: ws, retries: { backoff: '100ms' } }));
  const first = startAgent(s, agentToken, 'first');
  await waitFor(() => existsSync(join(ws, 'attempts')), { what: 'attempt 1 to start' });
  first.kill('SIGKILL');
  startAgent(s, agentToken, 'second');
  const done = await s.waitRun(run.id, undefined, 60_000);
  expect(done.status).toBe('succeeded');
  expect(done.stages[0].jobs[0].attempt).toBe(2);
  expect(readFileSync(join(ws, 'attempts'), 'utf8')).toBe('1\n2\n');
});

test('log chunks keep a lease alive: an agent that ships output but misses its heartbeats is not declared lost', async () => {
  const { s, agentToken } = await server();
  const { run } = await s.submit(agentJob('chatty', ['true'], { retries: { backoff: '100ms' } }));
  const jobId = run.stages[0].jobs[0].id;
  const claim = await s.api('POST', '/agents/claim', { agent: 'busy', wait_s: 5 }, { token: agentToken });
  expect(claim.status).toBe(200);
  const lease = claim.body.lease.token;
  // 4 s of output and no heartbeat, with a 1.5 s lease
  let offset = 0;
  for (let i = 0; i < 16; i++) {
    const r = await fetch(`${s.url}/api/v1/jobs/${jobId}/logs?command=0&offset=${offset}`, { method: 'POST', headers: { authorization: `Bearer ${agentToken}`, 'x-lease-token': lease }, body: `line ${i}\n` });
    expect(r.status).toBe(200);
    offset = ((await r.json()) as { size: number }).size;
    await Bun.sleep(250);
  }
  const job = (await s.api('GET', `/jobs/${jobId}`)).body;
  expect([job.status, job.attempt]).toEqual(['running', 1]);
  const done = await s.api('POST', `/jobs/${jobId}/complete`, { lease_token: lease, commands: [{ exit_code: 0 }] }, { token: agentToken });
  expect(done.status).toBe(200);
  expect((await s.waitRun(run.id)).status).toBe('succeeded');
});

test('a job killed by a signal a moment before its agent gets SIGTERM (scancel signals both) is left to its lease: lost, then retried, never failed', async () => {
  const { s, agentToken } = await server();
  const pidFile = join(s.root, 'job.pid');
  const marker = join(s.root, 'ran-once');
  const { run } = await s.submit(agentJob('scancel-order', [`if [ -e '${marker}' ]; then exit 0; fi; touch '${marker}'; echo $$ > '${pidFile}'; sleep 30`], { retries: { lost: 2 } }));
  const first = startAgent(s, agentToken, 'first');
  const pid = await waitFor(() => { try { return Number(readFileSync(pidFile, 'utf8').trim()) || false; } catch { return false; } }, { what: 'the job to start' });
  process.kill(-pid, 'SIGTERM'); // the job's process group first…
  await Bun.sleep(300);
  first.kill('SIGTERM'); // …then its agent, as scancel may deliver them
  await first.exited;
  startAgent(s, agentToken, 'second');
  const done = await s.waitRun(run.id);
  expect(done.status).toBe('succeeded');
  const job = (await s.api('GET', `/jobs/${run.stages[0].jobs[0].id}`)).body;
  expect(job.attempt).toBe(2);
  expect(job.attempts[0].reason).toBe('lost');
}, 60_000);
