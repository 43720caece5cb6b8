// The Slurm executor against the REAL Slurm test cluster (tests/cluster/start.sh; `npm test` starts it when none answers).
// Run alone:  npm test -- tests/plugins/slurm.test.ts   (or `bun test` the file while a cluster is up)
// Without a reachable cluster every test here FAILS, loudly; DROVER_TEST_SKIP_SLURM=1 skips them on purpose.
// The last test is a real controller outage (slurmctld SIGSTOPped for ~25 s); it disturbs anyone else using
// the cluster, so DROVER_TEST_SKIP_SLURM_FREEZE=1 skips it on purpose. (tests/fakes/slurm/flaky covers the
// controller failing to answer without stopping anything.)
//
// The cluster has 2 CPUs, so the scenarios share it: beforeAll starts every server, submits every run and
// starts each scenario's driver (scancel, requeue, kill -9…) at once; each test awaits its own driver and
// checks the outcome. About a minute alone; the waits are long (PATIENCE) because other runs of the suite
// may share the same cluster. Jobs are kept short so that nothing holds a CPU for long.
import { test, expect, beforeAll, afterAll } from 'bun:test';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startServer, waitFor, tempDir, type TestServer } from '../helpers/server.ts';
import { loadClusterEnv } from '../helpers/cluster.ts';

const SKIP = process.env.DROVER_TEST_SKIP_SLURM === '1';
if (SKIP) console.warn('[slurm.test] DROVER_TEST_SKIP_SLURM=1: the real-Slurm tests are skipped ON PURPOSE');
const SKIP_FREEZE = process.env.DROVER_TEST_SKIP_SLURM_FREEZE === '1';
if (SKIP_FREEZE) console.warn('[slurm.test] DROVER_TEST_SKIP_SLURM_FREEZE=1: the real slurmctld outage test is skipped ON PURPOSE');
const t = (name: string, fn: () => Promise<void> | void, timeoutMs = PATIENCE + 60_000) => (SKIP ? test.skip : test)(name, fn, timeoutMs);
const FAKES = resolve(import.meta.dir, '../fakes/slurm');
/** How long to wait for Slurm to make progress: generous, the cluster may be shared with other test runs. */
const PATIENCE = 240_000;
const TERMINAL = ['succeeded', 'failed', 'canceled'];

// ---- the cluster ----

function sh(cmd: string[]): { code: number; out: string; err: string } {
  try {
    const p = Bun.spawnSync(cmd, { env: process.env as Record<string, string> });
    return { code: p.exitCode ?? -1, out: p.stdout.toString(), err: p.stderr.toString() };
  } catch (err) {
    return { code: -1, out: '', err: String(err) }; // not installed
  }
}

let clusterProblem: string | null = null;
function requireCluster(): void {
  if (clusterProblem) throw new Error(clusterProblem);
}

/** Slurm's own view of a job: state and restart count (squeue keeps finished jobs for MinJobAge). */
function slurmState(id: string): { state: string; restarts: number } | null {
  const r = sh(['squeue', '--noheader', '--states=all', '--array', `--jobs=${id}`, '--Format=State:0|,RestartCnt:0|']);
  const [state, restarts] = r.out.trim().split('\n')[0]?.split('|') ?? [];
  return r.code === 0 && state ? { state, restarts: Number(restarts) || 0 } : null;
}
async function waitSlurm(id: string, pred: (s: { state: string; restarts: number }) => boolean, what: string, timeoutMs = PATIENCE) {
  return waitFor(() => { const s = slurmState(id); return !!s && pred(s) && s; }, { timeoutMs, intervalMs: 200, what: `Slurm job ${id} ${what}` });
}

// ---- servers and runs ----

const BASE_ENV = {
  DROVER_SLURM_POLL_MIN_MS: '200', DROVER_SLURM_POLL_MAX_MS: '1000', DROVER_SLURM_SUBMITS_PER_MIN: '600', DROVER_SLURM_SUBMIT_BURST: '100',
  DROVER_SLURM_MAX_BACKOFF_MS: '2000', DROVER_SLURM_MISSING_GRACE_MS: '5000',
};
const servers: TestServer[] = [];
const dirs: string[] = [];

async function server(env: Record<string, string> = {}, opts: { root?: string; dataDir?: string } = {}): Promise<TestServer> {
  // the server gets its environment explicitly: servers start concurrently, and process.env is shared
  const s = await startServer(['--max-parallel', '2'], { ...opts, env: { ...BASE_ENV, ...env } });
  servers.push(s);
  if (!dirs.includes(s.root)) dirs.push(s.root);
  return s;
}

/** A folder to use as DROVER_SLURM_PATH: each name → a real client or one of tests/fakes/slurm. */
function slurmBin(links: Record<string, string>): string {
  const d = tempDir('drover-slurm-bin-');
  dirs.push(d);
  for (const [name, target] of Object.entries(links)) symlinkSync(target.startsWith('/') ? target : join(FAKES, target), join(d, name));
  return d;
}
const real = (cmd: string) => Bun.which(cmd) ?? `/usr/bin/${cmd}`;

const spec = (name: string, jobs: object[], extra: Record<string, unknown> = {}) => ({ name, stages: [{ name: 'main', jobs }], ...extra });
const sjob = (name: string, commands: unknown[], extra: Record<string, unknown> = {}) => ({ name, executor: 'slurm', commands, ...extra });

async function submit(s: TestServer, pipeline: object): Promise<string> {
  const r = await s.submit(pipeline);
  return r.run?.id ?? r.group.id;
}
const runOf = async (s: TestServer, id: string) => (await s.api('GET', `/runs/${id}`)).body;
const jobsOfRun = async (s: TestServer, id: string) => (await runOf(s, id)).stages.flatMap((st: any) => st.jobs);
const onlyJob = async (s: TestServer, id: string) => (await jobsOfRun(s, id))[0];
const finished = (s: TestServer, id: string, timeoutMs = PATIENCE) => s.waitRun(id, (r) => TERMINAL.includes(r.status), timeoutMs);

/** The Slurm id drover submitted a job as (written beside the job once sbatch answered). */
async function slurmIdOf(s: TestServer, job: { dir: string }, timeoutMs = 60_000): Promise<string> {
  return waitFor(() => existsSync(join(job.dir, 'slurm.id')) && JSON.parse(readFileSync(join(job.dir, 'slurm.id'), 'utf8')).slurmId, { timeoutMs, what: `the Slurm id in ${job.dir}` });
}

async function metric(s: TestServer, name: string, labels = ''): Promise<number> {
  const text = (await s.api('GET', '/metrics')).text as string;
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line ? Number(line.split(' ')[1]) : NaN;
}

// everything below is started in beforeAll; each test awaits its scenario and checks what it saw
let M: TestServer, S: TestServer, N: TestServer, P: TestServer, C: TestServer, H: TestServer, R: TestServer, F: TestServer;
const runs: Record<string, string> = {};
let notAllowed: { status: number; body: any };
const scenarios: Record<string, Promise<any>> = {};
const PWNED = join(tmpdir(), `drover-slurm-pwned-${process.pid}`);
const HOSTILE = {
  q: `it's "quoted" \\ back`, sub: `$(touch ${PWNED}-sub)`, tick: `\`touch ${PWNED}-tick\``,
  nl: 'first\n#SBATCH --partition=gpu\n#SBATCH --begin=now+1hour\nlast', comma: 'a,b,--partition=gpu', uni: 'héllo ✓ 日本 \t tab', sp: '  two  spaces  ',
};
const HOSTILE_WS = `ws 'w' $(w) \`w\` é`;

/** Start a scenario now; its test awaits it (a failure is kept for the test, never unhandled). */
function scenario(name: string, fn: () => Promise<any>): void {
  const p = fn();
  p.catch(() => {});
  scenarios[name] = p;
}

beforeAll(async () => {
  if (SKIP) return;
  loadClusterEnv();
  const probe = sh(['sinfo', '--noheader', '--format=%T']);
  if (probe.code !== 0 || !probe.out.trim()) {
    clusterProblem = `the Slurm test cluster is not reachable (sinfo: ${(probe.err || probe.out).trim().split('\n').pop()}). ` +
      '`npm test` starts one; by hand: eval "$(sudo bash tests/cluster/start.sh)" — or set DROVER_TEST_SKIP_SLURM=1 to skip these tests on purpose.';
    return;
  }
  const purged = { squeue: 'squeue-purged', sbatch: real('sbatch'), scancel: real('scancel') };
  const flakyRoot = tempDir();
  const hostileRoot = mkdtempSync(join(tmpdir(), `drover slurm 'q' $(x) %a é-`));
  [M, S, N, P, C, R, F, H] = await Promise.all([
    server(),
    server({ DROVER_SLURM_ARRAY_PARALLEL: '8' }),
    server({ DROVER_SLURM_PATH: slurmBin(purged) }), // no sacct at all, finished jobs purged from squeue
    server({ DROVER_SLURM_PATH: slurmBin({ ...purged, sacct: real('sacct') }) }), // purged, accounting on
    server({ DROVER_SLURM_PATH: slurmBin({ ...purged, sacct: 'sacct-disabled' }) }), // accounting_storage/none
    server(),
    server({ DROVER_SLURM_PATH: slurmBin({ squeue: 'flaky', sbatch: 'flaky', scancel: 'flaky', sacct: 'flaky' }), FAKE_SLURM_DOWN_FLAG: join(flakyRoot, 'slurm-down') }, { root: flakyRoot }),
    server({}, { root: hostileRoot }),
  ]);

  runs.slurmTimeout = await submit(M, spec('timeout-slurm', [sjob('sleeper', ['sleep 300'], { resources: { time: '1m' } })]));
  runs.happy = await submit(M, spec('happy', [sjob('hello', [
    'echo "hello from $SLURM_JOB_ID on $SLURM_JOB_PARTITION"', 'echo result=42 >> "$DROVER_OUTPUT"',
    { run: 'echo soft failure >&2; exit 5', allow_failure: true }, 'echo after',
  ], { resources: { cpus: 1, mem: '64M', time: '5m', partition: 'debug' } })]));
  runs.failing = await submit(M, spec('failing', [sjob('bad', ['echo before', 'exit 7', 'echo never'])]));
  runs.scancel = await submit(M, spec('scancel', [sjob('victim', ['sleep 120'])]));
  runs.droverTimeout = await submit(M, spec('timeout-drover', [sjob('slow', ['sleep 120'], { timeout: '3s' })]));
  // the first run waits to be requeued; the second (SLURM_RESTART_COUNT=1) goes straight through
  runs.requeue = await submit(M, spec('requeue', [sjob('twice', ['echo "start $DROVER_ATTEMPT"; [ -n "$SLURM_RESTART_COUNT" ] || sleep 60; echo end'])]));
  runs.pending = await submit(M, spec('pending', [sjob('later', ['echo never'], { resources: { sbatch: ['--begin=now+1hour'] } })]));
  runs.refused = await submit(M, spec('refused', [sjob('toobig', ['echo never'], { resources: { gpus: 3 } })]));
  notAllowed = await M.api('POST', '/runs', { spec: spec('not-allowed', [sjob('evil', ['echo never'], { resources: { sbatch: ['--output=/tmp/evil.out'] } })]) });
  // max_parallel (2) is the local machine's: two local sleepers fill it, a Slurm job still goes to Slurm
  runs.localHogs = await submit(M, spec('local-hogs', [{ name: 'h1', commands: ['sleep 8'] }, { name: 'h2', commands: ['sleep 8'] }]));
  await waitFor(async () => (await jobsOfRun(M, runs.localHogs!)).every((j: any) => j.status === 'running'), { what: 'the local jobs to run' });
  runs.bypass = await submit(M, spec('bypass', [sjob('slurm-job', ['echo through'])]));
  runs.sweep = await submit(S, spec('sweep', [sjob('task', ['echo task ${{ params.i }} array task "$SLURM_ARRAY_TASK_ID"'])], { matrix: { i: [...Array(20).keys()] } }));
  for (const [name, srv] of [['N', N], ['P', P], ['C', C]] as const) {
    runs[`${name}ok`] = await submit(srv, spec(`acct-${name.toLowerCase()}-ok`, [sjob('ok', ['echo fine'])]));
    runs[`${name}bad`] = await submit(srv, spec(`acct-${name.toLowerCase()}-bad`, [sjob('bad', ['echo x', 'exit 4'])]));
  }
  runs.Pcancel = await submit(P, spec('acct-p-cancel', [sjob('victim', ['sleep 120'])]));
  runs.hostile = await submit(H, spec('hostile', [sjob('quoting', [
    ...Object.keys(HOSTILE).map((k) => `printf '%s' \${{ params.${k} }} > ${k}.txt`),
    'printf \'%s\' "$DROVER_PARAM_NL" > nl-env.txt', 'printf \'%s\' "$HOSTILE_ENV" > env.txt', 'printf \'%s\' "$SLURM_JOB_PARTITION" > partition.txt',
    'printf \'%s\' ${{ params.m }} > "m-$SLURM_ARRAY_TASK_ID.txt"',
  ], { env: { HOSTILE_ENV: HOSTILE.sub + HOSTILE.nl } })], {
    workspace: { path: HOSTILE_WS, create: true }, params: HOSTILE, matrix: { m: ['x y', `$(touch ${PWNED}-m)`] },
  }));
  runs.hostileSingle = await submit(H, spec('hostile-single', [sjob('one', ['printf \'%s\' "$DROVER_JOB_DIR"'])]));
  runs.restart = await submit(R, spec('restart', [
    sjob('quick', ['sleep 1', 'echo quick done']), sjob('quickfail', ['sleep 1', 'exit 3']), sjob('late', ['sleep 6', 'echo late done']),
  ]));
  runs.flaky = await submit(F, spec('flaky', [sjob('survivor', ['sleep 3', 'echo survived'])]));

  scenario('slurmTimeout', async () => {
    const id = await slurmIdOf(M, await onlyJob(M, runs.slurmTimeout!));
    await waitSlurm(id, (s) => s.state === 'RUNNING', 'to run');
    const limit = sh(['scontrol', 'show', 'job', id]).out;
    // Slurm rounds --time up to whole minutes; rather than wait for it, move the job's end (what its
    // time limit works out to) to now: slurmctld times it out at its next check, within 30 s
    sh(['scontrol', 'update', `JobId=${id}`, 'EndTime=now']);
    const job = (await finished(M, runs.slurmTimeout!)).stages[0].jobs[0];
    return { limit, job, slurm: await waitSlurm(id, (s) => s.state === 'TIMEOUT', 'to time out') };
  });
  scenario('pending', async () => {
    const job = await onlyJob(M, runs.pending!);
    const id = await slurmIdOf(M, job);
    const why = await waitFor(async () => {
      const w = (await M.api('GET', `/jobs/${job.id}/why`)).body;
      return w.reasons.some((r: any) => r.code === 'slurm_pending') && w;
    }, { what: 'a slurm_pending blocker' });
    const cancel = await M.api('POST', `/jobs/${job.id}/cancel`);
    const done = (await finished(M, runs.pending!)).stages[0].jobs[0];
    await waitSlurm(id, (s) => s.state === 'CANCELLED', 'to be cancelled');
    return { id, why, cancel: cancel.status, done };
  });
  scenario('scancel', async () => {
    const id = await slurmIdOf(M, await onlyJob(M, runs.scancel!));
    await waitSlurm(id, (s) => s.state === 'RUNNING', 'to run');
    const rc = sh(['scancel', id]).code;
    return { rc, job: (await finished(M, runs.scancel!)).stages[0].jobs[0] };
  });
  scenario('droverTimeout', async () => {
    const id = await slurmIdOf(M, await onlyJob(M, runs.droverTimeout!));
    const job = (await finished(M, runs.droverTimeout!)).stages[0].jobs[0];
    return { job, slurm: await waitSlurm(id, (s) => s.state === 'CANCELLED', 'to be cancelled') };
  });
  scenario('requeue', async () => {
    const first = await onlyJob(M, runs.requeue!);
    const id = await slurmIdOf(M, first);
    await waitSlurm(id, (s) => s.state === 'RUNNING', 'to run');
    await waitFor(() => existsSync(join(first.dir, 'logs', '0.log')) && readFileSync(join(first.dir, 'logs', '0.log'), 'utf8').includes('start'), { what: 'the first run to start' });
    const requeue = sh(['scontrol', 'requeue', id]);
    if (requeue.code !== 0) throw new Error(`scontrol requeue: ${requeue.err}`);
    await waitSlurm(id, (s) => s.restarts === 1 && s.state === 'PENDING', 'to be pending again');
    // Slurm holds a requeued job back (BeginTime, the credential lifetime: 2 min) before it may run again.
    // Let it go sooner, but not within the second of the requeue: slurmd would refuse the launch then
    // ("Job credential revoked") and the job would really fail.
    await Bun.sleep(2000);
    sh(['scontrol', 'update', `JobId=${id}`, 'StartTime=now']);
    const job = (await finished(M, runs.requeue!)).stages[0].jobs[0];
    return { job, attempts: (await M.api('GET', `/jobs/${job.id}`)).body.attempts };
  });
  scenario('sweep', async () => {
    const first = (await S.api('GET', `/runs?group=${runs.sweep}&limit=1`)).body.items[0];
    const arrayId = (await slurmIdOf(S, await onlyJob(S, first.id))).split('_')[0]!;
    const show = sh(['scontrol', 'show', 'job', arrayId]).out;
    const group = await S.waitGroup(runs.sweep!, (g) => TERMINAL.includes(g.status), PATIENCE);
    return { show, group };
  });
  scenario('Pcancel', async () => {
    const id = await slurmIdOf(P, await onlyJob(P, runs.Pcancel!));
    await waitSlurm(id, (s) => s.state === 'RUNNING', 'to run');
    sh(['scancel', id]);
    return (await finished(P, runs.Pcancel!)).stages[0].jobs[0];
  });
  scenario('restart', async () => {
    const jobs = await jobsOfRun(R, runs.restart!);
    const ids = await Promise.all(jobs.map((j: any) => slurmIdOf(R, j)));
    await waitSlurm(ids[0]!, (s) => s.state === 'RUNNING', 'to run');
    const { dataDir, root } = R;
    R.kill9();
    await R.proc.exited;
    // while the server is down, the quick ones finish in Slurm
    await waitSlurm(ids[0]!, (s) => s.state === 'COMPLETED', 'to complete');
    await waitSlurm(ids[1]!, (s) => s.state === 'FAILED', 'to fail');
    const R2 = await server({}, { root, dataDir });
    const run = await finished(R2, runs.restart!);
    const late = run.stages[0].jobs.find((j: any) => j.name === 'late');
    return { run, lateLog: (await R2.api('GET', `/jobs/${late.id}/logs?command=1`)).text, sbatch: await metric(R2, 'drover_slurm_calls_total', '{command="sbatch"}') };
  });
  scenario('flaky', async () => {
    const flag = join(F.root, 'slurm-down');
    const id = await slurmIdOf(F, await onlyJob(F, runs.flaky!));
    await waitSlurm(id, (s) => s.state === 'RUNNING', 'to run');
    writeFileSync(flag, '');
    try {
      const second = await submit(F, spec('flaky-2', [sjob('late-comer', ['echo two'])]));
      await waitSlurm(id, (s) => s.state === 'COMPLETED', 'to complete meanwhile');
      await Bun.sleep(2000);
      const during = {
        first: (await runOf(F, runs.flaky!)).status, queue: (await F.api('GET', '/queue')).body.executors.slurm,
        waiting: await onlyJob(F, second), up: await metric(F, 'drover_slurm_controller_up'),
      };
      const why = (await F.api('GET', `/jobs/${during.waiting.id}/why`)).body;
      rmSync(flag);
      const a = (await finished(F, runs.flaky!)).stages[0].jobs[0];
      const b = (await finished(F, second)).stages[0].jobs[0];
      return { during, why, a, b, up: await metric(F, 'drover_slurm_controller_up') };
    } finally {
      rmSync(flag, { force: true });
    }
  });
}, 60_000);

/** The Slurm ids of every job a server submitted (slurm.id beside each job). */
function submittedIds(dataDir: string): string[] {
  const out: string[] = [];
  const runsDir = join(dataDir, 'runs');
  for (const r of existsSync(runsDir) ? readdirSync(runsDir) : []) {
    const jobs = join(runsDir, r, 'jobs');
    for (const j of existsSync(jobs) ? readdirSync(jobs) : []) {
      try { out.push(JSON.parse(readFileSync(join(jobs, j, 'slurm.id'), 'utf8')).slurmId); } catch { /* not submitted */ }
    }
  }
  return out;
}

afterAll(async () => {
  await Promise.allSettled(Object.values(scenarios));
  for (const s of servers) await s.stop().catch(() => {});
  // Slurm jobs outlive their server by design: cancel what a failed scenario may have left behind
  const leftover = servers.flatMap((s) => submittedIds(s.dataDir));
  if (leftover.length) sh(['scancel', ...new Set(leftover)]);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  for (const f of readdirSync(tmpdir())) if (f.startsWith(`drover-slurm-pwned-${process.pid}`)) rmSync(join(tmpdir(), f), { force: true });
});

// ---------------------------------------------------------------------------------------------

t('the Slurm test cluster is reachable (npm test starts tests/cluster/start.sh)', () => {
  requireCluster();
  expect(M.url).toBeTruthy();
});

t('happy path: one sbatch, per-command logs and meta, outputs, an allowed failure', async () => {
  requireCluster();
  const run = await finished(M, runs.happy!);
  const job = run.stages[0].jobs[0];
  expect([run.status, job.status, job.exit_code]).toEqual(['succeeded', 'succeeded', 0]);
  expect(job.commands.map((c: any) => c.exit_code)).toEqual([0, 0, 5, 0]);
  expect(job.outputs).toEqual({ result: '42' });
  expect((await M.api('GET', `/jobs/${job.id}/logs?command=0`)).text).toMatch(/^hello from \d+ on debug\n$/);
  expect((await M.api('GET', `/jobs/${job.id}/logs?command=2`)).text).toBe('soft failure\n');
  for (let i = 0; i < 4; i++) {
    expect(existsSync(join(job.dir, 'logs', `${i}.log`))).toBe(true);
    expect(JSON.parse(readFileSync(join(job.dir, 'meta', `${i}.json`), 'utf8')).exit_code).toBe([0, 0, 5, 0][i]!);
  }
  // what Slurm ran (the wrapper) and Slurm's output file sit in the job folder
  expect(readFileSync(join(job.dir, 'slurm.sh'), 'utf8')).toContain('exec /bin/bash "$__D/job.sh"');
  expect(readFileSync(join(job.dir, 'job.out'), 'utf8')).toContain('__DROVER_RC=0');
  expect(existsSync(join(job.dir, 'slurm.out'))).toBe(true);
  expect((await M.api('GET', `/jobs/${job.id}/why`)).body.blocked).toBe(false);
});

t('a failing command fails the job with its exit code; later commands do not run', async () => {
  requireCluster();
  const job = (await finished(M, runs.failing!)).stages[0].jobs[0];
  expect([job.status, job.reason, job.exit_code]).toEqual(['failed', 'exit_code', 7]);
  expect(job.commands.map((c: any) => c.exit_code)).toEqual([0, 7, null]);
  expect(existsSync(join(job.dir, 'logs', '2.log'))).toBe(false);
});

t('why shows the Slurm pending reason; cancel in drover runs scancel', async () => {
  requireCluster();
  const { id, why, cancel, done } = await scenarios.pending!;
  expect(why.blocked).toBe(true);
  expect(why.reasons.find((r: any) => r.code === 'slurm_pending')).toMatchObject({ reason: 'BeginTime', slurm_job_id: id });
  expect(cancel).toBe(200);
  expect([done.status, done.reason]).toEqual(['canceled', 'canceled']);
});

t('an external scancel → canceled with reason slurm:CANCELLED', async () => {
  requireCluster();
  const { rc, job } = await scenarios.scancel!;
  expect(rc).toBe(0);
  expect([job.status, job.reason]).toEqual(['canceled', 'slurm:CANCELLED']);
  expect(job.message).toContain('outside drover');
});

t("drover's own timeout cancels the Slurm job", async () => {
  requireCluster();
  const { job, slurm } = await scenarios.droverTimeout!;
  expect([job.status, job.reason]).toEqual(['failed', 'timeout']);
  expect(slurm.state).toBe('CANCELLED');
});

t('a refused submission fails as spawn_failed; an option off the allow-list is a 400 at submit that names it', async () => {
  requireCluster();
  const refused = (await finished(M, runs.refused!)).stages[0].jobs[0];
  expect([refused.status, refused.reason]).toEqual(['failed', 'spawn_failed']);
  expect(refused.message).toContain('Requested node configuration is not available');
  expect(notAllowed.status).toBe(400);
  expect(notAllowed.body.error.code).toBe('invalid_spec');
  expect(notAllowed.body.error.message).toContain('stages[0].jobs[0].resources.sbatch: --output is not on the allow-list');
  expect((await M.api('GET', '/runs?pipeline=not-allowed')).body.items).toEqual([]); // nothing was written
  expect(existsSync('/tmp/evil.out')).toBe(false);
});

t('scontrol requeue of a running job is recorded as a new attempt, never finalized from the first run', async () => {
  requireCluster();
  const { job, attempts } = await scenarios.requeue!;
  expect([job.status, job.attempt, job.exit_code]).toEqual(['succeeded', 2, 0]);
  expect(attempts.map((a: any) => [a.attempt, a.status, a.reason])).toEqual([[1, 'failed', 'slurm:REQUEUED'], [2, 'succeeded', null]]);
  expect(readFileSync(join(job.dir, 'attempt-1', 'logs', '0.log'), 'utf8')).toBe('start 1\n');
  expect(readFileSync(join(job.dir, 'logs', '0.log'), 'utf8')).toBe('start 2\nend\n'); // DROVER_ATTEMPT follows the requeue
});

t('max_parallel limits local jobs only: a Slurm job starts while the local slots are full', async () => {
  requireCluster();
  const bypass = (await finished(M, runs.bypass!)).stages[0].jobs[0];
  const hogs = (await finished(M, runs.localHogs!)).stages[0].jobs;
  expect(bypass.status).toBe('succeeded');
  expect(hogs.map((j: any) => j.status)).toEqual(['succeeded', 'succeeded']);
  expect(Date.parse(bypass.started_at)).toBeLessThan(Math.min(...hogs.map((j: any) => Date.parse(j.ended_at))));
});

t('a sweep of 20 runs is ONE sbatch --array (counted by /metrics), each task running its own run', async () => {
  requireCluster();
  const { show, group } = await scenarios.sweep!;
  expect(group.status).toBe('succeeded');
  expect(group.counts.succeeded).toBe(20);
  expect(show).toContain('ArrayTaskThrottle=8');
  expect(await metric(S, 'drover_slurm_calls_total', '{command="sbatch"}')).toBe(1);
  expect(await metric(S, 'drover_slurm_jobs_submitted_total')).toBe(20);
  const items = (await S.api('GET', `/runs?group=${runs.sweep}&limit=50`)).body.items;
  expect(items).toHaveLength(20);
  for (const r of items) {
    const job = await onlyJob(S, r.id);
    expect((await S.api('GET', `/jobs/${job.id}/logs?command=0`)).text).toMatch(new RegExp(`^task ${r.params.i} array task \\d+\\n$`));
  }
  const q = (await S.api('GET', '/queue')).body.executors.slurm;
  expect(q.calls.sbatch).toBe(1);
  expect(q.failures).toEqual({ sbatch: 0, squeue: 0, sacct: 0, scancel: 0 });
});

t('accounting on or off, and jobs purged from squeue: exit codes still right', async () => {
  requireCluster();
  for (const [name, srv, accounting] of [['N', N, 'missing'], ['P', P, 'ok'], ['C', C, 'off']] as const) {
    const ok = (await finished(srv, runs[`${name}ok`]!)).stages[0].jobs[0];
    const bad = (await finished(srv, runs[`${name}bad`]!)).stages[0].jobs[0];
    expect([name, ok.status, ok.exit_code]).toEqual([name, 'succeeded', 0]);
    expect([name, bad.status, bad.reason, bad.exit_code]).toEqual([name, 'failed', 'exit_code', 4]);
    expect([name, (await srv.api('GET', '/queue')).body.executors.slurm.accounting]).toEqual([name, accounting]);
  }
  // with accounting, sacct tells an outside scancel from a crash even after squeue forgot the job
  const job = await scenarios.Pcancel!;
  expect([job.status, job.reason]).toEqual(['canceled', 'slurm:CANCELLED']);
  expect(await metric(P, 'drover_slurm_calls_total', '{command="sacct"}')).toBeGreaterThan(0);
});

t('hostile params, env, paths and names run exactly as written and add no sbatch option', async () => {
  requireCluster();
  const group = await H.waitGroup(runs.hostile!, (g) => TERMINAL.includes(g.status), PATIENCE);
  expect(group.status).toBe('succeeded');
  const ws = join(H.root, HOSTILE_WS);
  for (const [k, v] of Object.entries(HOSTILE)) expect([k, readFileSync(join(ws, `${k}.txt`), 'utf8')]).toEqual([k, v]);
  expect(readFileSync(join(ws, 'nl-env.txt'), 'utf8')).toBe(HOSTILE.nl);
  expect(readFileSync(join(ws, 'env.txt'), 'utf8')).toBe(HOSTILE.sub + HOSTILE.nl);
  expect(readFileSync(join(ws, 'partition.txt'), 'utf8')).toBe('debug');
  const ms = readdirSync(ws).filter((f) => f.startsWith('m-')).map((f) => readFileSync(join(ws, f), 'utf8')).sort();
  expect(ms).toEqual([`$(touch ${PWNED}-m)`, 'x y'].sort());
  // a single job under the same hostile data dir: its --output pattern (with a %) is the job folder's
  const single = (await finished(H, runs.hostileSingle!)).stages[0].jobs[0];
  expect(single.status).toBe('succeeded');
  expect((await H.api('GET', `/jobs/${single.id}/logs?command=0`)).text).toBe(single.dir);
  expect(existsSync(join(single.dir, 'slurm.out'))).toBe(true);
  expect(readdirSync(tmpdir()).filter((f) => f.startsWith(`drover-slurm-pwned-${process.pid}`))).toEqual([]);
  expect(await metric(H, 'drover_slurm_calls_total', '{command="sbatch"}')).toBe(2); // the sweep's two runs: one array
});

t('kill -9 of the server while Slurm jobs run and finish: the restarted server reports each right', async () => {
  requireCluster();
  const { run, lateLog, sbatch } = await scenarios.restart!;
  const byName = Object.fromEntries(run.stages[0].jobs.map((j: any) => [j.name, j]));
  expect([byName.quick.status, byName.quick.exit_code, byName.quick.attempt]).toEqual(['succeeded', 0, 1]);
  expect([byName.quickfail.status, byName.quickfail.reason, byName.quickfail.exit_code]).toEqual(['failed', 'exit_code', 3]);
  expect([byName.late.status, byName.late.exit_code, byName.late.attempt]).toEqual(['succeeded', 0, 1]);
  expect(lateLog).toBe('late done\n');
  expect(sbatch).toBe(0); // nothing submitted twice
});

t('the controller not answering (squeue and sbatch failing) causes no false failure; both recover', async () => {
  requireCluster();
  const { during, why, a, b, up } = await scenarios.flaky!;
  expect(during.first).toBe('running');
  expect(during.queue.controller.ok).toBe(false);
  expect(during.queue.failures.squeue).toBeGreaterThan(0);
  expect(during.waiting.status).toBe('running');
  expect(during.up).toBe(0);
  expect(why.reasons.map((r: any) => r.code)).toContain('slurm_submit');
  expect([a.status, a.attempt, b.status, b.attempt]).toEqual(['succeeded', 1, 'succeeded', 1]);
  expect(up).toBe(1);
});

t('a job past its Slurm --time → failed, timed out', async () => {
  requireCluster();
  const { limit, job, slurm } = await scenarios.slurmTimeout!;
  expect(limit).toContain('TimeLimit=00:01:00');
  expect(slurm.state).toBe('TIMEOUT');
  expect([job.status, job.reason]).toEqual(['failed', 'timeout']);
  expect(job.message).toContain('Slurm TIMEOUT');
});

(SKIP_FREEZE ? test.skip : t)('a real slurmctld outage (SIGSTOP ~25 s) while jobs run fails nothing', async () => {
  requireCluster();
  // whichever cluster answers: its controller's pid file, from its own configuration
  const pidFile = /^SlurmctldPidFile\s*=\s*(\S+)/m.exec(sh(['scontrol', 'show', 'config']).out)?.[1];
  if (!pidFile) throw new Error('scontrol show config names no SlurmctldPidFile');
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  const s = await server({ DROVER_SLURM_CALL_TIMEOUT_MS: '5000' });
  const id = await submit(s, spec('freeze', [sjob('through', ['sleep 3', 'echo through'])]));
  await slurmIdOf(s, await onlyJob(s, id));
  process.kill(pid, 'SIGSTOP');
  try {
    await Bun.sleep(25_000);
    expect((await runOf(s, id)).status).toBe('running');
    expect((await s.api('GET', '/queue')).body.executors.slurm.controller.ok).toBe(false);
  } finally {
    process.kill(pid, 'SIGCONT');
  }
  const job = (await finished(s, id, 60_000)).stages[0].jobs[0];
  expect([job.status, job.attempt]).toEqual(['succeeded', 1]);
}, 120_000);
