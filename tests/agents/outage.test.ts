// Issue 14 #5: agent output printed while the server is down is not lost. A completion carries each
// command's log size; while the server's stored log is shorter it answers 409 log_incomplete with the
// sizes it has, the agent sends the rest from its spool and completes again. An agent restarted on the
// same --work-dir (its spool) picks an unfinished job up the same way.
import { test, expect, afterEach } from 'bun:test';
import { writeFileSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Subprocess } from 'bun';
import { startServer, waitFor, DROVER_CMD, TestServer } from '../helpers/server.ts';

let servers: TestServer[] = [];
let agents: Subprocess[] = [];
afterEach(async () => {
  for (const a of agents) { try { a.kill('SIGKILL'); } catch { /* gone */ } }
  for (const s of servers) await s.stop();
  servers = []; agents = [];
});

async function freePort(): Promise<number> {
  const s = Bun.serve({ port: 0, fetch: () => new Response('') });
  const p = s.port!;
  s.stop(true);
  return p;
}

async function setup(extra: string[] = []) {
  const port = await freePort();
  const s = await startServer(['--port', String(port), '--lease-ttl', '20s', ...extra]);
  servers.push(s);
  const token = (await s.api('POST', '/tokens', { role: 'agent', name: 'outage-agent' })).body.token as string;
  const tokenFile = join(s.root, 'agent.token');
  writeFileSync(tokenFile, token, { mode: 0o600 });
  const workDir = join(s.root, 'spool');
  const agent = () => {
    const p = Bun.spawn([...DROVER_CMD, 'agent', '--server', s.url, '--token-file', tokenFile, '--name', 'outage', '--work-dir', workDir], { stdout: 'ignore', stderr: 'pipe' });
    agents.push(p);
    return p;
  };
  return { s, agent, workDir };
}

const gate = (s: TestServer) => join(s.root, 'gate');
const lines = 200;
const spec = (s: TestServer, name: string) => ({
  name, retries: { lost: 0 },
  stages: [{ name: 'main', jobs: [{ name: 'job', executor: 'agent', commands: [
    `echo first; while [ ! -e '${gate(s)}' ]; do sleep 0.05; done; for i in $(seq 1 ${lines}); do echo "line $i"; done`,
    'echo second command',
  ] }] }],
});
const want = `first\n${Array.from({ length: lines }, (_, i) => `line ${i + 1}\n`).join('')}second command\n`;

/** The spool folder's job.out holds the runner's exit marker: the job has ended on the agent. */
const endedInSpool = (workDir: string) => {
  if (!existsSync(workDir)) return false;
  return readdirSync(workDir).some((d) => { try { return /__DROVER_RC=0/.test(readFileSync(join(workDir, d, 'job.out'), 'utf8')); } catch { return false; } });
};

test('output printed while the server is down reaches the stored log before the job is final', async () => {
  const { s, agent, workDir } = await setup();
  agent();
  const { run } = await s.submit(spec(s, 'outage'));
  const job = run.stages[0].jobs[0].id;
  await waitFor(async () => (await s.api('GET', `/jobs/${job}/logs`)).text === 'first\n', { what: 'the first line shipped' });
  s.kill9();
  await s.proc.exited;
  writeFileSync(gate(s), ''); // the job prints the rest and ends while no server listens
  await waitFor(() => endedInSpool(workDir), { what: 'the job to end on the agent' });
  await Bun.sleep(500);
  const s2 = await new TestServer(s.root, s.dataDir, s.args).start();
  servers.push(s2);
  const done = await s2.waitRun(run.id, undefined, 60_000);
  expect(done.status).toBe('succeeded');
  expect((await s2.api('GET', `/jobs/${job}/logs`)).text).toBe(want);
  const j = (await s2.api('GET', `/jobs/${job}`)).body;
  expect(j.attempt).toBe(1);
  expect(j.commands.map((c: any) => c.log_size)).toEqual([want.length - 'second command\n'.length, 'second command\n'.length]);
}, 90_000);

test('a completion whose log sizes exceed the stored log is refused with 409 log_incomplete and the stored sizes', async () => {
  const { s } = await setup();
  const token = (await s.api('POST', '/tokens', { role: 'agent' })).body.token as string;
  const { run } = await s.submit({ name: 'direct', stages: [{ name: 'main', jobs: [{ name: 'job', executor: 'agent', commands: ['true', 'true'] }] }] });
  const claim = await s.api('POST', '/agents/claim', { agent: 'manual', executors: ['agent'], wait_s: 5 }, { token });
  expect(claim.status).toBe(200);
  const id = run.stages[0].jobs[0].id;
  const lease = claim.body.lease.token;
  const post = await fetch(`${s.url}/api/v1/jobs/${id}/logs?command=0&offset=0`, { method: 'POST', body: 'abc', headers: { authorization: `Bearer ${token}`, 'x-lease-token': lease } });
  expect(post.status).toBe(200);
  const body = { lease_token: lease, commands: [{ exit_code: 0 }, { exit_code: 0 }], outputs: {}, logs: [10, 0] };
  const r = await s.api('POST', `/jobs/${id}/complete`, body, { token });
  expect(r.status).toBe(409);
  expect(r.body.error.code).toBe('log_incomplete');
  expect(r.body.error.details.sizes).toEqual([3, 0]);
  expect((await s.api('GET', `/jobs/${id}`)).body.status).toBe('running'); // not final
  const rest = await fetch(`${s.url}/api/v1/jobs/${id}/logs?command=0&offset=3`, { method: 'POST', body: 'defghij', headers: { authorization: `Bearer ${token}`, 'x-lease-token': lease } });
  expect(rest.status).toBe(200);
  expect((await s.api('POST', `/jobs/${id}/complete`, body, { token })).status).toBe(200);
  expect((await s.waitRun(run.id)).status).toBe('succeeded');
});

test('an agent restarted on its spool finishes the job it left: same attempt, whole log', async () => {
  const { s, agent, workDir } = await setup();
  const first = agent();
  const { run } = await s.submit(spec(s, 'respawn'));
  const job = run.stages[0].jobs[0].id;
  await waitFor(async () => (await s.api('GET', `/jobs/${job}/logs`)).text === 'first\n', { what: 'the first line shipped' });
  first.kill('SIGKILL');
  await first.exited;
  writeFileSync(gate(s), ''); // the job (its own process group) prints on and ends without its agent
  await waitFor(() => endedInSpool(workDir), { what: 'the job to end without its agent' });
  agent();
  const done = await s.waitRun(run.id, undefined, 15_000); // well before the 20 s lease would expire
  expect(done.status).toBe('succeeded');
  expect(done.stages[0].jobs[0].attempt).toBe(1);
  expect((await s.api('GET', `/jobs/${job}/logs`)).text).toBe(want);
}, 60_000);
