// Allocation queues (API.md §7) against the REAL Slurm test cluster (tests/cluster/start.sh): drover
// submits allocations whose `drover agent` claims the pool's jobs. sbatch goes through a PATH shim
// that counts the real submissions (and can be told to fail them). Without a reachable cluster every
// test here FAILS, loudly; DROVER_TEST_SKIP_SLURM=1 skips them on purpose.
// The cluster has 2 CPUs and may be shared with other test runs: waits are long (PATIENCE), jobs short,
// and only our own Slurm jobs (named drover-alloc-<id>) are ever looked at or canceled.
import { test, expect, afterAll, beforeAll } from 'bun:test';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, waitFor, tempDir, TestServer } from '../helpers/server.ts';
import { loadClusterEnv } from '../helpers/cluster.ts';

const SKIP = process.env.DROVER_TEST_SKIP_SLURM === '1';
const PATIENCE = 240_000;
const t = (name: string, fn: () => Promise<void>, timeoutMs = PATIENCE + 60_000) => (SKIP ? test.skip : test)(name, fn, timeoutMs);

const servers: TestServer[] = [];
const ourAllocs = new Set<string>();
beforeAll(() => {
  loadClusterEnv();
  if (!SKIP && !Bun.which('sbatch')) throw new Error('sbatch not found: start the test cluster (tests/cluster/start.sh) or set DROVER_TEST_SKIP_SLURM=1');
});
afterAll(async () => {
  for (const s of servers) { try { s.kill9(); } catch { /* gone */ } }
  // our own allocations only (never anyone else's)
  const ids = squeueOurs().map((r) => r.id);
  if (ids.length) Bun.spawnSync(['scancel', ...ids]);
});

function sh(cmd: string[]): { code: number; out: string; err: string } {
  const p = Bun.spawnSync(cmd, { env: process.env as Record<string, string> });
  return { code: p.exitCode ?? -1, out: p.stdout.toString(), err: p.stderr.toString() };
}

/** Our allocations still in Slurm's queue (not finished): id, name, state. */
function squeueOurs(): { id: string; name: string; state: string }[] {
  const r = sh(['squeue', '--noheader', '--Format=JobID:0|,Name:0|,State:0|']);
  return r.out.split('\n').map((l) => l.split('|')).filter((f) => f.length >= 3 && ourAllocs.has(f[1]!))
    .map(([id, name, state]) => ({ id: id!, name: name!, state: state! }));
}

/** A shim around the real sbatch: logs every call; with `fail` present it refuses real submissions (not --test-only). */
function sbatchShim(root: string) {
  const dir = join(root, 'shim');
  mkdirSync(dir, { recursive: true });
  const real = Bun.which('sbatch')!;
  writeFileSync(join(dir, 'sbatch'), `#!/bin/bash
echo "$*" >> ${JSON.stringify(join(dir, 'calls'))}
case " $* " in *" --test-only "*) ;; *) if [ -e ${JSON.stringify(join(dir, 'fail'))} ]; then echo "sbatch: error: Batch job submission failed: Unable to contact slurm controller (connect failure)" >&2; exit 1; fi ;; esac
exec ${JSON.stringify(real)} "$@"
`);
  chmodSync(join(dir, 'sbatch'), 0o755);
  return {
    env: { DROVER_SLURM_PATH: `${dir}:${process.env.PATH}`, DROVER_ALLOC_PASS_INTERVAL: '500ms' },
    /** real submissions (not `--test-only`) */
    submissions: () => (existsSync(join(dir, 'calls')) ? readFileSync(join(dir, 'calls'), 'utf8').split('\n').filter((l) => l && !l.includes('--test-only')).length : 0),
    fail: (on: boolean) => { if (on) writeFileSync(join(dir, 'fail'), ''); else rmSync(join(dir, 'fail'), { force: true }); },
  };
}

async function server(args: string[] = [], env: Record<string, string> = {}, root = tempDir('drover-alloc-')) {
  const shim = sbatchShim(root);
  const s = await startServer(['--max-parallel', '2', ...args], { root, env: { ...shim.env, ...env } });
  servers.push(s);
  return { s, shim };
}

const poolJobs = (name: string, pool: string, n: number, commands: string[], job: object = {}) => ({
  name, stages: [{ name: 'main', jobs: Array.from({ length: n }, (_, i) => ({ name: `j${i}`, executor: 'agent', pool, commands, ...job })) }],
});

async function addQueue(s: TestServer, body: object) {
  const r = await s.api('POST', '/alloc/queues', body);
  if (r.status !== 201) throw new Error(`alloc add: ${r.status} ${r.text}`);
  return r.body;
}
const queue = async (s: TestServer, name: string) => (await s.api('GET', `/alloc/queues/${name}`)).body;
const track = (q: any) => { for (const a of q.allocations ?? []) ourAllocs.add(`drover-alloc-${a.id}`); return q; };

function marks(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
}

t('500 true jobs run in at most 2 allocations, each once; the allocations end by themselves; the token is never exposed and is revoked', async () => {
  const { s, shim } = await server();
  const log = join(s.root, 'marks.log');
  await addQueue(s, { pool: 'p', time: '10m', max_allocs: 2, backlog: 1, idle: '3s' });
  const { run } = await s.submit(poolJobs('five-hundred', 'p', 500, [`echo "$DROVER_JOB_ID" >> ${log}`]));
  // while an allocation runs: its token is in a 0600 file, not in the script, not in Slurm's copy, not in ps
  const running = await waitFor(async () => track(await queue(s, 'p')).allocations.find((a: any) => a.status === 'running'), { timeoutMs: PATIENCE, what: 'an allocation to run' });
  const tokenFile = join(s.dataDir, 'alloc', running.id, 'token');
  const token = readFileSync(tokenFile, 'utf8').trim();
  expect(token).toStartWith('drv_');
  {
    expect(Bun.spawnSync(['stat', '-c', '%a', tokenFile]).stdout.toString().trim()).toBe('600');
    const script = readFileSync(join(s.dataDir, 'alloc', running.id, 'alloc.sh'), 'utf8');
    expect(script).not.toContain(token);
    expect(script).toContain('--token-file');
    expect(sh(['ps', '-eo', 'args']).out).not.toContain(token);
    const stored = sh(['scontrol', 'write', 'batch_script', running.slurm_id, '-']);
    if (stored.code === 0) expect(stored.out).not.toContain(token);
  }
  const done = await s.waitRun(run.id, undefined, PATIENCE);
  expect(done.status).toBe('succeeded');
  const lines = marks(log);
  expect(lines.length).toBe(500);
  expect(new Set(lines).size).toBe(500);
  // the allocations end by themselves after --idle; nothing of ours is left in Slurm
  const q = await waitFor(async () => { const q = track(await queue(s, 'p')); return q.counts.pending + q.counts.running + q.counts.submitting === 0 && q; }, { timeoutMs: PATIENCE, what: 'the allocations to end' });
  expect(shim.submissions()).toBeLessThanOrEqual(2);
  expect(q.sbatch_calls).toBe(shim.submissions());
  expect(q.allocations.every((a: any) => a.status === 'ended')).toBe(true);
  expect(q.allocations.reduce((n: number, a: any) => n + a.jobs_run, 0)).toBe(500);
  expect(squeueOurs()).toEqual([]);
  // revoked: the API refuses the allocation's token now
  expect((await s.api('POST', '/agents/claim', { agent: 'x', wait_s: 0 }, { token })).status).toBe(401);
  expect(existsSync(tokenFile)).toBe(false);
  expect(existsSync(join(s.dataDir, 'alloc', running.id, 'work'))).toBe(false); // its agents' job folders are gone
  expect(existsSync(join(s.dataDir, 'alloc', running.id, 'slurm.out'))).toBe(true); // kept for alloc log
  expect((await s.api('GET', '/tokens')).body.items.some((x: any) => x.name.startsWith('alloc-'))).toBe(false);
  // visible: /queue, drover queue, alloc ls, alloc log, /metrics
  expect((await s.api('GET', '/queue')).body.alloc_queues[0].name).toBe('p');
  expect(s.cli('queue').out).toContain('allocation queues:');
  expect(s.cli('alloc', 'ls').out).toContain('ended');
  const logOut = s.cli('alloc', 'log', 'p').out;
  expect(logOut).toContain('-- script:');
  expect(logOut).toContain('nothing to do');
  const metrics = (await s.api('GET', '/metrics')).text;
  expect(metrics).toMatch(/drover_alloc_allocations\{queue="p",status="ended"\} [12]/);
  expect(metrics).toContain('drover_alloc_sbatch_calls_total{queue="p"}');
});

t('a job asking for more time than --time stays queued with the blocker; nothing is submitted for it', async () => {
  const { s, shim } = await server();
  await addQueue(s, { pool: 'long', time: '5m', max_allocs: 2, idle: '3s' });
  const { run } = await s.submit(poolJobs('too-long', 'long', 1, ['true'], { resources: { time: '2h' } }));
  const jobId = run.stages[0].jobs[0].id;
  const why = await waitFor(async () => { const w = (await s.api('GET', `/jobs/${jobId}/why`)).body; return w.reasons.some((r: any) => r.code === 'alloc_time_too_short') && w; }, { what: 'the blocker' });
  const b = why.reasons.find((r: any) => r.code === 'alloc_time_too_short');
  expect(b.queue).toBe('long');
  expect(b.message).toContain("'long'");
  await Bun.sleep(2000); // several passes
  expect((await s.api('GET', `/jobs/${jobId}`)).body.status).toBe('queued');
  expect((await queue(s, 'long')).sbatch_calls).toBe(0);
  expect(shim.submissions()).toBe(0);
  expect(s.cli('why', jobId).out).toContain('alloc_time_too_short');
});

t('cpus and gpus: the queue learns the node (2 CPUs, gpu:2); a 2-CPU job runs in a --cpus-per-task=2 allocation with --slots 2; jobs bigger than a node or than the arguments ask stay queued with the blocker and bring no sbatch', async () => {
  const { s, shim } = await server();
  const added = await addQueue(s, { pool: 'fit', time: '5m', max_allocs: 1, backlog: 1, idle: '3s', sbatch_args: ['--cpus-per-task=2'] });
  // the test cluster's node: 2 CPUs, gpu:2 (tests/cluster); an allocation asks 2 CPUs and no GPU
  expect(added.node).toEqual({ cpus: 2, gpus: 2 });
  expect(added.shape).toEqual({ cpus: 2, gpus: 0 });
  expect(s.cli('alloc', 'ls').out).toContain('each allocation: 2 CPU(s), 0 GPU(s) per node (a node: 2 CPUs, 2 GPUs)');
  const big = await s.submit({ name: 'too-big', stages: [{ name: 'main', jobs: [
    { name: 'cpus', executor: 'agent', pool: 'fit', commands: ['true'], resources: { cpus: 8 } },
    { name: 'gpus', executor: 'agent', pool: 'fit', commands: ['true'], resources: { gpus: 1 } },
  ] }] });
  const [cpuJob, gpuJob] = big.run.stages[0].jobs.map((j: any) => j.id);
  const blocker = async (id: string, code: string) => waitFor(async () => (await s.api('GET', `/jobs/${id}/why`)).body.reasons.find((r: any) => r.code === code), { what: code });
  const cpus = await blocker(cpuJob, 'alloc_cpus_too_many');
  expect(cpus).toMatchObject({ queue: 'fit', limit: 2, cpus: 8, by: 'node' });
  expect(cpus.message).toContain("'fit'");
  const gpus = await blocker(gpuJob, 'alloc_gpus_too_many');
  expect(gpus).toMatchObject({ queue: 'fit', limit: 0, gpus: 1, by: 'sbatch_args' });
  expect(gpus.message).toContain('--gres=gpu:N');
  await Bun.sleep(2000); // several passes
  expect(shim.submissions()).toBe(0);
  expect(s.cli('why', cpuJob).out).toContain('alloc_cpus_too_many');
  // a job that fits brings exactly one allocation, whose agent has the allocation's 2 CPUs as slots
  const { run } = await s.submit(poolJobs('fits', 'fit', 1, ['echo "slots=$DROVER_JOB_ID"'], { resources: { cpus: 2 } }));
  expect((await s.waitRun(run.id, undefined, PATIENCE)).status).toBe('succeeded');
  const q = await waitFor(async () => { const q = track(await queue(s, 'fit')); return q.counts.pending + q.counts.running + q.counts.submitting === 0 && q.counts.ended === 1 && q; }, { timeoutMs: PATIENCE, what: 'the allocation to end' });
  expect(readFileSync(join(s.dataDir, 'alloc', q.allocations[0].id, 'alloc.sh'), 'utf8')).toContain('--slots 2 --gpus 0 ');
  expect(s.cli('alloc', 'log', 'fit').out).toContain('2 slot(s), 0 GPU(s)');
  expect(shim.submissions()).toBe(1);
  for (const id of [cpuJob, gpuJob]) expect((await s.api('GET', `/jobs/${id}`)).body.status).toBe('queued');
  await s.api('POST', `/runs/${big.run.id}/cancel`);
});

t('bad sbatch arguments are refused at alloc add with Slurm\'s message; drover\'s own options are refused too', async () => {
  const { s, shim } = await server();
  const bad = s.cli('alloc', 'add', 'slurm', '--pool', 'x', '--time', '5m', '--', '--partition=no-such-partition');
  expect(bad.code).toBe(2);
  expect(bad.err).toMatch(/invalid partition/i);
  const own = await s.api('POST', '/alloc/queues', { pool: 'x', time: '5m', sbatch_args: ['--output=/tmp/x'] });
  expect(own.status).toBe(400);
  expect(own.body.error.message).toContain('--output');
  const short = await s.api('POST', '/alloc/queues', { pool: 'x', time: '10s' });
  expect(short.status).toBe(400);
  expect(short.body.error.details.path).toBe('time');
  expect((await s.api('GET', '/alloc/queues')).body.items).toEqual([]);
  expect(shim.submissions()).toBe(0);
  const ok = s.cli('alloc', 'add', 'slurm', '--pool', 'x', '--time', '5m', '--', '--partition=debug');
  expect(ok.code).toBe(0);
  expect(ok.out).toContain('added allocation queue x');
  expect(s.cli('alloc', 'rm', 'x').code).toBe(0);
});

t('a controller that refuses submissions: the queue backs off, pauses after 5 failures with the reason; resume works', async () => {
  const { s, shim } = await server([], { DROVER_ALLOC_BACKOFF: '0,300ms,300ms' });
  shim.fail(true);
  await addQueue(s, { pool: 'f', time: '5m', max_allocs: 1, idle: '2s' });
  const { run } = await s.submit(poolJobs('refused', 'f', 3, ['true']));
  const paused = await waitFor(async () => { const q = await queue(s, 'f'); return q.status === 'paused' && q; }, { timeoutMs: 60_000, what: 'the queue to pause' });
  expect(paused.failures).toBe(5);
  expect(paused.reason).toContain('Unable to contact slurm controller');
  expect(paused.counts.failed).toBe(5);
  expect(shim.submissions()).toBe(5);
  expect(s.cli('alloc', 'ls').out).toContain('Unable to contact slurm controller');
  expect((await s.api('GET', '/metrics')).text).toContain('drover_alloc_queue_paused{queue="f"} 1');
  const why = (await s.api('GET', `/jobs/${run.stages[0].jobs[0].id}/why`)).body;
  expect(why.reasons.some((r: any) => r.code === 'alloc_queue_paused')).toBe(true);
  await Bun.sleep(1500);
  expect(shim.submissions()).toBe(5); // paused: nothing more
  shim.fail(false);
  expect(s.cli('alloc', 'resume', 'f').code).toBe(0);
  track(await waitFor(async () => { const q = await queue(s, 'f'); return q.allocations.some((a: any) => a.slurm_id) && q; }, { what: 'a submission after resume' }));
  expect((await s.waitRun(run.id, undefined, PATIENCE)).status).toBe('succeeded');
  expect((await queue(s, 'f')).status).toBe('active');
});

t('scancel of a running allocation: its jobs are lost, retried in another allocation, and all succeed once', async () => {
  const { s, shim } = await server(['--lease-ttl', '2s']);
  const log = join(s.root, 'marks.log');
  await addQueue(s, { pool: 'sc', time: '10m', max_allocs: 1, backlog: 1, idle: '3s' });
  const { run } = await s.submit(poolJobs('canceled-mid-way', 'sc', 30, [`sleep 0.3 && echo "$DROVER_JOB_ID" >> ${log}`], { retries: { lost: 3 } }));
  const first = await waitFor(async () => { const q = track(await queue(s, 'sc')); return q.allocations.find((a: any) => a.status === 'running' && a.jobs_run > 2); }, { timeoutMs: PATIENCE, what: 'the first allocation to run jobs' });
  expect(sh(['scancel', first.slurm_id]).code).toBe(0);
  const done = await s.waitRun(run.id, undefined, PATIENCE);
  expect(done.status).toBe('succeeded');
  track(await queue(s, 'sc'));
  expect(shim.submissions()).toBeGreaterThanOrEqual(2); // another allocation took over
  const jobs = done.stages[0].jobs;
  expect(jobs.every((j: any) => j.status === 'succeeded')).toBe(true);
  const lines = marks(log);
  expect(new Set(lines).size).toBe(30);
  const retried = jobs.filter((j: any) => j.attempt > 1).length;
  expect(lines.length).toBeLessThanOrEqual(30 + retried);
  const q = await waitFor(async () => { const q = await queue(s, 'sc'); return q.allocations.find((a: any) => a.id === first.id).status !== 'running' && q; }, { what: 'the canceled allocation to end' });
  expect(q.allocations.find((a: any) => a.id === first.id).reason).toMatch(/slurm:CANCELLED|gone/);
});

t('kill -9 of the server while an allocation runs: the restarted server re-adopts it (no new sbatch), its agent reconnects, jobs finish once', async () => {
  const probe = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } });
  const port = probe.port;
  probe.stop(true);
  const root = tempDir('drover-alloc-');
  const { s, shim } = await server(['--port', String(port)], {}, root);
  const log = join(s.root, 'marks.log');
  await addQueue(s, { pool: 'k', time: '10m', max_allocs: 1, backlog: 1, idle: '5s' });
  const { run } = await s.submit(poolJobs('survives', 'k', 40, [`sleep 0.3 && echo "$DROVER_JOB_ID" >> ${log}`]));
  await waitFor(async () => { const q = track(await queue(s, 'k')); return q.allocations.find((a: any) => a.status === 'running' && a.jobs_run > 2); }, { timeoutMs: PATIENCE, what: 'the allocation to run jobs' });
  const before = shim.submissions();
  s.kill9();
  await s.proc.exited;
  await Bun.sleep(1500);
  const again = await new TestServer(s.root, s.dataDir, ['--max-parallel', '2', '--port', String(port)], { ...sbatchShim(root).env }).start();
  servers.push(again);
  const done = await again.waitRun(run.id, undefined, PATIENCE);
  expect(done.status).toBe('succeeded');
  const lines = marks(log);
  expect(new Set(lines).size).toBe(40);
  expect(lines.length).toBe(40);
  expect(shim.submissions()).toBe(before); // re-adopted, never resubmitted
  const q = await waitFor(async () => { const q = await queue(again, 'k'); return q.counts.running + q.counts.pending === 0 && q; }, { timeoutMs: PATIENCE, what: 'the allocation to end' });
  expect(q.allocations.length).toBe(1);
  expect(q.allocations[0].status).toBe('ended');
});

t('an allocation whose agent never connects (wrong --advertise-url) is failed, canceled and counted as a failure', async () => {
  const { s } = await server(['--advertise-url', 'http://127.0.0.1:9'], { DROVER_ALLOC_CONNECT_TIMEOUT: '3s', DROVER_ALLOC_BACKOFF: '1h' });
  await addQueue(s, { pool: 'nc', time: '5m', max_allocs: 1, idle: '3s' });
  await s.submit(poolJobs('unreachable', 'nc', 1, ['true']));
  const q = await waitFor(async () => { const q = track(await queue(s, 'nc')); return q.counts.failed === 1 && q; }, { timeoutMs: PATIENCE, what: 'the allocation to be failed' });
  const a = q.allocations[0];
  expect(a.reason).toBe('agent_never_connected');
  expect(a.message).toContain('http://127.0.0.1:9');
  expect(q.failures).toBe(1);
  expect(q.backoff_until).not.toBeNull(); // backs off before the next try
  expect(q.sbatch_calls).toBe(1);
  await waitFor(() => !squeueOurs().some((r) => r.name === `drover-alloc-${a.id}`), { timeoutMs: 60_000, what: 'scancel of the allocation' });
  expect(s.cli('alloc', 'log', 'nc').out).toContain("127.0.0.1:9"); // the agent's own complaint is in its output
});

t('alloc rm drains: a pending allocation is canceled in Slurm, its token revoked, and the queue is removed; why named it while pending; GC then collects both', async () => {
  const { s } = await server(['--retention-max-age', '1s']);
  // --begin keeps the allocation pending in Slurm for an hour: it can only end by our scancel
  await addQueue(s, { pool: 'rm', time: '5m', max_allocs: 1, idle: '3s', sbatch_args: ['--begin=now+1hour'] });
  const { run } = await s.submit(poolJobs('drained', 'rm', 2, ['true']));
  const pending = await waitFor(async () => track(await queue(s, 'rm')).allocations.find((a: any) => a.status === 'pending' && a.slurm_id), { timeoutMs: 60_000, what: 'a pending allocation' });
  expect(squeueOurs().map((r) => r.id)).toContain(pending.slurm_id);
  // why: the job names the allocation it waits for, its Slurm job and its state
  const jobId = run.stages[0].jobs[0].id;
  const waiting = (await s.api('GET', `/jobs/${jobId}/why`)).body.reasons.find((r: any) => r.code === 'alloc_pending');
  expect(waiting).toMatchObject({ queue: 'rm', allocation: pending.id, slurm_id: pending.slurm_id, state: 'pending' });
  expect(waiting.message).toContain(`waiting for allocation ${pending.id} (Slurm job ${pending.slurm_id}, pending since `);
  expect(waiting.message).toContain("of allocation queue 'rm'");
  expect(s.cli('why', jobId).out).toContain(`waiting for allocation ${pending.id} (Slurm job ${pending.slurm_id}`);
  const rm = s.cli('alloc', 'rm', 'rm');
  expect(rm.code).toBe(0);
  expect(rm.out).toContain('pending allocations are canceled');
  await waitFor(async () => (await s.api('GET', '/alloc/queues')).body.items.length === 0, { timeoutMs: 60_000, what: 'the queue to be removed' });
  expect((await s.api('GET', `/alloc/queues/rm`)).status).toBe(404);
  expect(squeueOurs().map((r) => r.id)).not.toContain(pending.slurm_id);
  expect((await s.api('GET', '/tokens')).body.items.some((x: any) => x.name === `alloc-${pending.id}`)).toBe(false);
  // the name is free again for a new queue (its pool's jobs canceled first: it has nothing to submit for)
  await s.api('POST', `/runs/${run.id}/cancel`);
  await s.waitRun(run.id);
  const again = await s.api('POST', '/alloc/queues', { pool: 'rm', time: '5m', idle: '3s' });
  expect(again.status).toBe(201);
  expect((await s.api('DELETE', '/alloc/queues/rm')).status).toBe(200);
  // retention GC (--retention-max-age 1s): the canceled allocation goes, row and folder, and with it both removed queues
  const dir = join(s.dataDir, 'alloc', pending.id);
  expect(existsSync(join(dir, 'alloc.sh'))).toBe(true);
  await waitFor(async () => (await s.api('GET', '/alloc/queues')).body.items.length === 0, { timeoutMs: 60_000, what: 'the second queue to be removed' });
  await Bun.sleep(1100); // past the max age
  const gc = (await s.api('POST', '/gc')).body;
  expect(gc.allocations.map((a: any) => [a.id, a.status])).toEqual([[pending.id, 'canceled']]);
  expect(gc.alloc_queues_removed).toEqual(['rm', 'rm']);
  expect(existsSync(dir)).toBe(false);
  expect((await s.api('POST', '/gc')).body.alloc_queues_removed).toEqual([]);
});
