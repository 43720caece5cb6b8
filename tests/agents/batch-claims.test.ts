// Batch claims (API.md §2 `max`, `until`, `resources`): one request hands out several jobs, never the
// same job twice, only jobs whose time fits before the agent's end and whose CPUs fit what it has free;
// `drover agent --slots/--until/--idle-exit` fills its slots per claim and exits by itself when idle.
import { test, expect, afterEach } from 'bun:test';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, waitFor, DROVER_CMD, type TestServer } from '../helpers/server.ts';

let servers: TestServer[] = [];
afterEach(async () => { for (const s of servers) await s.stop(); servers = []; });

async function server() {
  const s = await startServer(['--max-parallel', '2']);
  servers.push(s);
  const t = await s.api('POST', '/tokens', { role: 'agent', name: 'batch-agent' });
  expect(t.status).toBe(201);
  return { s, agentToken: t.body.token as string };
}

/** One run with `n` agent jobs in one stage. */
const jobs = (name: string, n: number, job: object = {}) => ({
  name, stages: [{ name: 'main', jobs: Array.from({ length: n }, (_, i) => ({ name: `j${i}`, executor: 'agent', commands: ['true'], ...job })) }],
});

test('max hands out several jobs in one answer; racing agents never get the same job', async () => {
  const { s, agentToken } = await server();
  await s.submit(jobs('batch', 40));
  const claim = (max: number) => s.api('POST', '/agents/claim', { agent: 'a', wait_s: 0, max }, { token: agentToken });
  const first = await claim(5);
  expect(first.status).toBe(200);
  expect(first.body.items.length).toBe(5);
  expect(first.body.items[0].lease.token).toStartWith('lease_');
  const raced = await Promise.all([claim(32), claim(32), claim(32)]);
  const ids = [...first.body.items, ...raced.flatMap((r) => r.status === 200 ? r.body.items : [])].map((c: any) => c.job.id);
  expect(ids.length).toBe(40);
  expect(new Set(ids).size).toBe(40);
  expect((await claim(32)).status).toBe(204); // nothing left
});

test('until: a job whose resources.time does not fit before the agent\'s end is not handed out', async () => {
  const { s, agentToken } = await server();
  await s.submit(jobs('long', 1, { resources: { time: '1h' } }));
  const claim = (until: number) => s.api('POST', '/agents/claim', { agent: 'a', wait_s: 0, max: 4, until }, { token: agentToken });
  expect((await claim(Date.now() + 10 * 60_000)).status).toBe(204);
  const ok = await claim(Date.now() + 2 * 3600_000);
  expect(ok.status).toBe(200);
  expect(ok.body.items.length).toBe(1);
});

test('resources.cpus: the jobs of one answer fit in the CPUs the agent has free', async () => {
  const { s, agentToken } = await server();
  await s.submit(jobs('wide', 3, { resources: { cpus: 2 } }));
  const claim = (cpus: number) => s.api('POST', '/agents/claim', { agent: 'a', wait_s: 0, max: 8, resources: { cpus } }, { token: agentToken });
  expect((await claim(1)).status).toBe(204);
  const got = await claim(5);
  expect(got.body.items.length).toBe(2); // 2 + 2 of 5; a third would need 6
  expect(got.body.items.every((c: any) => c.job.cpus === 2)).toBe(true);
});

test('bad max and until are 400s naming the field', async () => {
  const { s, agentToken } = await server();
  for (const [body, field] of [[{ max: 0 }, 'max'], [{ max: 1.5 }, 'max'], [{ max: 100_000 }, 'max'], [{ until: 'soon' }, 'until']] as const) {
    const r = await s.api('POST', '/agents/claim', { agent: 'a', ...body }, { token: agentToken });
    expect(r.status).toBe(400);
    expect(r.text).toContain(field);
  }
});

test('drover agent --slots 4 --idle-exit runs every job and exits by itself; a bad --until is refused', async () => {
  const { s, agentToken } = await server();
  const { run } = await s.submit(jobs('fill', 12, { commands: ['sleep 0.2'] }));
  const file = join(s.root, 'agent.token');
  writeFileSync(file, agentToken, { mode: 0o600 });
  const base = [...DROVER_CMD, 'agent', '--server', s.url, '--token-file', file, '--work-dir', join(s.root, 'spool')];
  const bad = Bun.spawnSync([...base, '--until', 'tomorrow-ish']);
  expect(bad.exitCode).toBe(2);
  expect(bad.stderr.toString()).toContain('--until');
  const t0 = Date.now();
  const agent = Bun.spawn([...base, '--slots', '4', '--idle-exit', '2s', '--until', String(Date.now() + 3600_000)], { stdout: 'ignore', stderr: 'pipe' });
  const code = await Promise.race([agent.exited, Bun.sleep(60_000).then(() => 'timeout')]);
  if (code === 'timeout') agent.kill('SIGKILL');
  expect(code).toBe(0);
  const r = await s.api('GET', `/runs/${run.id}`);
  expect(r.body.status).toBe('succeeded');
  // 12 jobs of 0.2 s on 4 slots: well under the serial 2.4 s plus the 2 s idle
  const started = r.body.stages[0].jobs.map((j: any) => Date.parse(j.started_at)).sort();
  expect(started[11] - started[0]).toBeLessThan(2400);
  expect(Date.now() - t0).toBeGreaterThan(2000); // it waited out --idle-exit
  expect(await new Response(agent.stderr).text()).toContain('nothing to do');
});

test('drover agent --gpus N: jobs share its GPUs like its slots (never more at once); --gpus 0 takes no GPU job', async () => {
  const { s, agentToken } = await server();
  const log = join(s.root, 'gpu.log');
  const { run } = await s.submit(jobs('gpus', 3, { resources: { gpus: 1 }, commands: [`echo start >> ${log}; sleep 0.3; echo end >> ${log}`] }));
  const file = join(s.root, 'agent.token');
  writeFileSync(file, agentToken, { mode: 0o600 });
  const base = [...DROVER_CMD, 'agent', '--server', s.url, '--token-file', file, '--slots', '4', '--idle-exit', '1s'];
  // no GPU: nothing of this run is taken, and the agent exits idle
  const none = Bun.spawnSync([...base, '--gpus', '0', '--work-dir', join(s.root, 'spool0')], { timeout: 60_000 });
  expect(none.exitCode).toBe(0);
  expect((await s.api('GET', `/runs/${run.id}`)).body.stages[0].jobs.every((j: any) => j.status === 'queued')).toBe(true);
  expect(Bun.spawnSync([...base, '--gpus', '-1']).exitCode).toBe(2);
  // one GPU, four slots: the three one-GPU jobs run one after another
  const one = Bun.spawnSync([...base, '--gpus', '1', '--work-dir', join(s.root, 'spool1')], { timeout: 60_000 });
  expect(one.exitCode).toBe(0);
  expect(one.stderr.toString()).toContain('4 slot(s), 1 GPU(s)');
  expect((await s.api('GET', `/runs/${run.id}`)).body.status).toBe('succeeded');
  expect(readFileSync(log, 'utf8').trim().split('\n')).toEqual(['start', 'end', 'start', 'end', 'start', 'end']);
});
