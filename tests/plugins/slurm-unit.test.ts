// The Slurm executor's pure parts, without a cluster: the state table, sbatch options and the allow-list,
// the batch wrappers (run with bash against temp folders), squeue/sacct parsing. The real-cluster
// scenarios are in slurm.test.ts.
import { test, expect, describe, afterAll } from 'bun:test';
import { mkdirSync, writeFileSync, readFileSync, existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { SLURM_STATES, baseState, ruleFor } from '../../src/plugins/slurm/state-map.ts';
import { checkExtraOptions, resourceArgs, slurmTime, singleWrapper, arrayWrapper, parseJobId, slurmPathPattern, TRANSIENT_SUBMIT } from '../../src/plugins/slurm/sbatch.ts';
import { parseSqueue, squeueArgs } from '../../src/plugins/slurm/squeue.ts';
import { parseSacct, accountingFromFailure } from '../../src/plugins/slurm/sacct.ts';
import { scrubbedEnv } from '../../src/plugins/slurm/cli.ts';
import { Poller } from '../../src/plugins/slurm/poll.ts';
import { Submitter } from '../../src/plugins/slurm/submit.ts';
import { slurmOptions } from '../../src/plugins/slurm/options.ts';
import { tempDir as makeTempDir } from '../helpers/server.ts';

const made: string[] = [];
const tempDir = () => { const d = makeTempDir('drover-slurm-unit-'); made.push(d); return d; };
afterAll(() => { for (const d of made) rmSync(d, { recursive: true, force: true }); });

describe('state map', () => {
  // every base state of Slurm 22.05's job_state_string(), so a new one cannot slip in unmapped
  const ALL = ['PENDING', 'RUNNING', 'SUSPENDED', 'COMPLETED', 'CANCELLED', 'FAILED', 'TIMEOUT', 'NODE_FAIL', 'PREEMPTED',
    'BOOT_FAIL', 'DEADLINE', 'OUT_OF_MEMORY', 'COMPLETING', 'CONFIGURING', 'RESIZING', 'REQUEUED', 'REQUEUE_FED',
    'REQUEUE_HOLD', 'SPECIAL_EXIT', 'STOPPED', 'REVOKED', 'RESV_DEL_HOLD', 'SIGNALING', 'STAGE_OUT'];

  test('maps every Slurm job state, and nothing else', () => {
    expect(Object.keys(SLURM_STATES).sort()).toEqual([...ALL].sort());
  });

  test('the issue table: how each terminal state ends an attempt', () => {
    expect(ruleFor('COMPLETED')).toEqual({ kind: 'runner' });
    expect(ruleFor('FAILED')).toEqual({ kind: 'runner' });
    expect(ruleFor('CANCELLED by 0')).toEqual({ kind: 'canceled' });
    expect(ruleFor('TIMEOUT')).toMatchObject({ kind: 'failed', reason: 'timeout' });
    expect(ruleFor('OUT_OF_MEMORY')).toMatchObject({ kind: 'failed', reason: 'slurm:OUT_OF_MEMORY' });
    expect(ruleFor('NODE_FAIL')).toMatchObject({ kind: 'failed', reason: 'lost' });
    expect(ruleFor('BOOT_FAIL')).toMatchObject({ kind: 'failed', reason: 'lost' });
    expect(ruleFor('PREEMPTED')).toMatchObject({ kind: 'failed', reason: 'lost' });
    expect(ruleFor('DEADLINE')).toMatchObject({ kind: 'failed', reason: 'slurm:DEADLINE' });
    for (const s of ['PENDING', 'REQUEUED', 'REQUEUE_HOLD', 'CONFIGURING']) expect(ruleFor(s)).toEqual({ kind: 'active', phase: 'pending' });
    for (const s of ['RUNNING', 'COMPLETING', 'SUSPENDED']) expect(ruleFor(s)).toEqual({ kind: 'active', phase: 'running' });
  });

  test('an unknown state is reported once and mapped to nothing', () => {
    const seen: string[] = [];
    expect(ruleFor('WEIRD_NEW_STATE', (s) => seen.push(s))).toBeNull();
    expect(ruleFor('WEIRD_NEW_STATE', (s) => seen.push(s))).toBeNull();
    expect(seen).toEqual(['WEIRD_NEW_STATE']);
    expect(baseState('CANCELLED by 1000')).toBe('CANCELLED');
    expect(baseState('running+')).toBe('RUNNING');
  });
});

describe('sbatch options', () => {
  test('resources map to sbatch options, extras first so the mapped ones win', () => {
    expect(resourceArgs({ cpus: 1.5, mem_mb: 8192, time_ms: 7_200_000, gpus: 2, partition: 'gpu', account: 'proj', qos: 'high', fallback: 'cpu', sbatch: ['--constraint=a100'] }))
      .toEqual(['--constraint=a100', '--cpus-per-task=2', '--mem=8192M', '--time=02:00:00', '--gres=gpu:2', '--partition=gpu', '--account=proj', '--qos=high']);
    expect(resourceArgs({ fallback: 'cpu' })).toEqual([]);
    expect(resourceArgs({ gpus: 0, fallback: 'cpu' })).toEqual([]);
  });

  test('time limits in Slurm form, rounded up to seconds', () => {
    expect(slurmTime(500)).toBe('00:00:01');
    expect(slurmTime(90_000)).toBe('00:01:30');
    expect(slurmTime(86_400_000 + 3_661_000)).toBe('1-01:01:01');
  });

  test('the allow-list refuses options that redirect output, change what runs or carry environment', () => {
    expect(checkExtraOptions(['--constraint=a100', '--exclusive', '--nodelist=n1,n2', '--comment=two words'])).toBeNull();
    for (const bad of ['--output=/tmp/x', '--error=/tmp/x', '--wrap=id', '--export=ALL,SECRET=1', '--array=0-3', '--chdir=/', '--job-name=x', '--uid=0', '--dependency=afterok:1', '-o /tmp/x', '--clusters=other']) {
      expect(checkExtraOptions([bad])).toContain('resources.sbatch');
    }
    expect(checkExtraOptions(['--partition=gpu'])).toContain('use resources.partition');
    expect(checkExtraOptions(['--mem=1G'])).toContain('use resources.mem');
    expect(checkExtraOptions(['--comment=a\n#SBATCH --x'])).toContain('line break');
    expect(checkExtraOptions(['--my-site-flag'], new Set(['my-site-flag']))).toBeNull();
  });

  test('sbatch output, patterns and errors', () => {
    expect(parseJobId('1234\n')).toBe('1234');
    expect(parseJobId('1234;cluster\n')).toBe('1234');
    expect(parseJobId('Submitted batch job 1')).toBeNull();
    expect(slurmPathPattern('/a/100%/b')).toBe('/a/100%%/b');
    expect(TRANSIENT_SUBMIT.test('sbatch: error: Batch job submission failed: Unable to contact slurm controller (connect failure)')).toBe(true);
    expect(TRANSIENT_SUBMIT.test('sbatch: error: Batch job submission failed: Requested node configuration is not available')).toBe(false);
  });

  test('the environment sbatch gets has no secrets and no SBATCH_/SLURM_ overrides (SLURM_CONF stays)', () => {
    const env = scrubbedEnv({ PATH: '/bin', HOME: '/h', SLURM_CONF: '/c', SBATCH_PARTITION: 'x', SLURM_JOB_ID: '1', DROVER_TOKEN: 't', HF_TOKEN: 's', MY_SECRET: 's', AWS_SECRET_ACCESS_KEY: 'k', OMP_NUM_THREADS: '2' });
    expect(env).toEqual({ PATH: '/bin', HOME: '/h', SLURM_CONF: '/c', OMP_NUM_THREADS: '2' });
  });
});

describe('batch wrappers', () => {
  const HOSTILE = `job 'q' "dq" $(touch pwned) \`touch pwned2\` %a é\n#SBATCH --partition=gpu`;

  function jobDir(root: string, name: string, marker: string): string {
    const d = join(root, name);
    mkdirSync(join(d, 'logs'), { recursive: true });
    mkdirSync(join(d, 'meta'), { recursive: true });
    writeFileSync(join(d, 'job.sh'), `echo ran ${marker} "$SLURM_RESTART_COUNT" >> "$(dirname "$0")/ran.txt"\n`);
    return d;
  }

  test('no #SBATCH directive can come from a path: the first command ends sbatch\'s scan', () => {
    const text = singleWrapper(`/x\n#SBATCH --partition=gpu`, 1);
    const lines = text.split('\n');
    const firstCommand = lines.findIndex((l) => l.trim() !== '' && !l.startsWith('#'));
    expect(lines.slice(0, firstCommand).filter((l) => l.startsWith('#SBATCH'))).toEqual([]);
    expect(firstCommand).toBeLessThan(lines.findIndex((l) => l.includes('#SBATCH')));
  });

  test('a single wrapper runs its job.sh from a hostile path, running nothing else', async () => {
    const root = tempDir();
    const d = jobDir(root, HOSTILE, 'one');
    writeFileSync(join(root, 'w.sh'), singleWrapper(d, 1));
    const p = Bun.spawnSync(['bash', join(root, 'w.sh')], { cwd: root, env: { PATH: process.env.PATH! } });
    expect(p.exitCode).toBe(0);
    expect(readFileSync(join(d, 'ran.txt'), 'utf8')).toBe('ran one \n');
    expect(existsSync(join(root, 'pwned')) || existsSync(join(root, 'pwned2'))).toBe(false);
  });

  test('an array task picks its own job, and a requeued run moves the previous files aside', async () => {
    const root = tempDir();
    const dirs = [jobDir(root, 'a', 'A'), jobDir(root, HOSTILE, 'B'), jobDir(root, 'c', 'C')];
    writeFileSync(join(root, 'arr.sh'), arrayWrapper(dirs.map((dir, i) => ({ dir, attempt: i === 1 ? 3 : 1 }))));
    const run = (task: number, restart?: number) => Bun.spawnSync(['bash', join(root, 'arr.sh')], {
      cwd: root, env: { PATH: process.env.PATH!, SLURM_ARRAY_TASK_ID: String(task), ...(restart ? { SLURM_RESTART_COUNT: String(restart) } : {}) },
    });
    expect(run(1).exitCode).toBe(0);
    expect(readFileSync(join(dirs[1]!, 'ran.txt'), 'utf8')).toBe('ran B \n');
    expect(existsSync(join(dirs[0]!, 'ran.txt')) || existsSync(join(dirs[2]!, 'ran.txt'))).toBe(false);
    // the first run left job.out and meta: a requeue (restart 1) keeps them as attempt 3's
    writeFileSync(join(dirs[1]!, 'job.out'), '__DROVER_RC=0\n');
    writeFileSync(join(dirs[1]!, 'meta', '0.json'), '{"exit_code":0}');
    expect(run(1, 1).exitCode).toBe(0);
    expect(readFileSync(join(dirs[1]!, 'attempt-3', 'job.out'), 'utf8')).toBe('__DROVER_RC=0\n');
    expect(readdirSync(join(dirs[1]!, 'attempt-3', 'meta'))).toEqual(['0.json']);
    expect(readdirSync(join(dirs[1]!, 'meta'))).toEqual([]);
    expect(existsSync(join(dirs[1]!, 'job.out'))).toBe(false);
    expect(readFileSync(join(dirs[1]!, 'ran.txt'), 'utf8')).toBe('ran B \nran B 1\n');
    expect(existsSync(join(root, 'pwned')) || existsSync(join(root, 'pwned2'))).toBe(false);
  });
});

describe('squeue and sacct', () => {
  test('squeue: one call for every job of the user, finished ones and array tasks included', () => {
    expect(squeueArgs('0')).toEqual(expect.arrayContaining(['--states=all', '--array', '--user=0']));
    expect(squeueArgs('0').some((a) => a.startsWith('-j') || a.startsWith('--jobs'))).toBe(false);
    const rows = parseSqueue([
      '1|1|N/A|COMPLETED|None|0|', '2|2|2|PENDING|JobArrayTaskLimit|0|', '4|2|0|RUNNING|None|0|',
      '9|9|N/A|PENDING|BeginTime|1|', '7|7|[3-9%2]|PENDING|Priority|0|', 'garbage', '',
    ].join('\n'));
    expect([...rows.keys()]).toEqual(['1', '2_2', '2_0', '9', '7']);
    expect(rows.get('2_0')).toMatchObject({ jobId: '4', state: 'RUNNING' });
    expect(rows.get('9')).toMatchObject({ reason: 'BeginTime', restarts: 1 });
  });

  test('sacct rows and what a failing sacct means', () => {
    const rows = parseSacct('12|COMPLETED|0:0\n13_4|FAILED|3:0\n14|CANCELLED by 0|0:15\n15_[5-9]|PENDING|0:0\n');
    expect(rows.get('13_4')).toEqual({ key: '13_4', state: 'FAILED', exitCode: 3, signal: 0 });
    expect(rows.get('14')!.state).toBe('CANCELLED by 0');
    expect(rows.has('15_[5-9]')).toBe(false);
    expect(accountingFromFailure({ missing: true, stderr: '' })).toBe('missing');
    expect(accountingFromFailure({ missing: false, stderr: 'Slurm accounting storage is disabled' })).toBe('off');
    expect(accountingFromFailure({ missing: false, stderr: 'sacct: error: Problem talking to the database: Connection refused' })).toBe('down');
  });
});

describe('the poller, against scripted squeue/sacct answers', () => {
  type Reply = { ok: boolean; stdout?: string; stderr?: string; missing?: boolean };
  function fakeCli(replies: Record<string, Reply[]>) {
    const calls: string[] = [];
    const cli = {
      async run(cmd: string) {
        calls.push(cmd);
        const r = replies[cmd]?.shift() ?? { ok: true, stdout: '' };
        return { ok: r.ok, code: r.ok ? 0 : 1, stdout: r.stdout ?? '', stderr: r.stderr ?? '', missing: !!r.missing, timedOut: false };
      },
    };
    return { cli, calls };
  }
  const opts = { ...slurmOptions({}), user: '0', missingGraceMs: 0 };
  const noLog = () => ({ info() {}, warn() {}, error() {}, scope() { return noLog(); } });

  function job(marker: string | null, name = 'j') {
    const dir = join(tempDir(), name);
    mkdirSync(join(dir, 'meta'), { recursive: true });
    mkdirSync(join(dir, 'logs'), { recursive: true });
    writeFileSync(join(dir, 'job.out'), marker === null ? '__DROVER_PID=1\n' : `__DROVER_PID=1\n__DROVER_RC=${marker}\n`);
    return dir;
  }
  const item = (dir: string, slurmId: string, restarts = 0) =>
    ({ jobId: `job-${slurmId}`, attempt: 1, handle: { executor: 'slurm', dir, commandCount: 0, slurmId, restarts, baseAttempt: 1, name: 'n', submittedAt: 0 } });
  const row = (id: string, state: string, restarts = 0, reason = 'None') => `${id}|${id}|N/A|${state}|${reason}|${restarts}|`;

  test('one squeue for all jobs; Slurm states decide, the runner result where it should', async () => {
    const { cli, calls } = fakeCli({ squeue: [{ ok: true, stdout: [row('1', 'RUNNING'), row('2', 'PENDING', 0, 'Priority'), row('3', 'COMPLETED'), row('4', 'CANCELLED'), row('5', 'TIMEOUT'), row('6', 'NODE_FAIL'), row('7', 'CANCELLED')].join('\n') }] });
    const p = new Poller(cli as any, opts, noLog);
    const obs = await p.poll([item(job(null), '1'), item(job(null), '2'), item(job('0'), '3'), item(job(null), '4'), item(job('143'), '5'), item(job(null), '6'), item(job('0'), '7')]);
    expect(calls).toEqual(['squeue']);
    expect(obs.map((o: any) => [o.state, o.outcome?.reason ?? o.result?.rc ?? null])).toEqual([
      ['running', null], ['running', null], ['exited', 0], ['exited', 'slurm:CANCELLED'], ['exited', 'timeout'], ['exited', 'lost'], ['exited', 0],
    ]);
    expect(p.seen.get('job-2')).toMatchObject({ phase: 'pending', reason: 'Priority' });
  });

  test('a higher restart count is a requeue, reported once per restart with the new count in the handle', async () => {
    const { cli } = fakeCli({ squeue: [{ ok: true, stdout: row('8', 'PENDING', 1, 'BeginTime') }, { ok: true, stdout: row('8', 'PENDING', 1, 'BeginTime') }] });
    const p = new Poller(cli as any, opts, noLog);
    const dir = job('143'); // the killed first run even left a marker: it must not be taken as the result
    const [o] = await p.poll([item(dir, '8')]) as any[];
    expect([o.state, o.reason, o.handle.restarts]).toEqual(['requeued', 'slurm:REQUEUED', 1]);
    expect((await p.poll([item(dir, '8', 1)]))[0]!.state).toBe('running');
  });

  test('a failing squeue keeps every job running and backs off; never a failed job', async () => {
    const down = { ok: false, stderr: 'slurm_load_jobs error: Unable to contact slurm controller (connect failure)' };
    const { cli } = fakeCli({ squeue: [down, down, down] });
    const p = new Poller(cli as any, { ...opts, pollMinMs: 100, maxBackoffMs: 60_000 }, noLog);
    const it = item(job('0'), '9');
    const waits: number[] = [];
    for (let i = 0; i < 3; i++) { expect((await p.poll([it]))[0]!.state).toBe('running'); waits.push(p.intervalMs()); }
    expect(waits).toEqual([1000, 2000, 4000]);
    expect(p.failingSince).not.toBeNull();
  });

  test('jobs gone from squeue: sacct decides; without accounting the marker; no marker → lost', async () => {
    const acct = fakeCli({ squeue: [{ ok: true, stdout: '' }], sacct: [{ ok: true, stdout: '10|CANCELLED by 0|0:15\n11|COMPLETED|0:0\n' }] });
    const p = new Poller(acct.cli as any, opts, noLog);
    const obs = await p.poll([item(job(null), '10'), item(job('0'), '11')]) as any[];
    expect(acct.calls).toEqual(['squeue', 'sacct']);
    expect([obs[0].outcome.status, obs[1].result.rc]).toEqual(['canceled', 0]);
    expect(p.accounting).toBe('ok');

    const off = fakeCli({ squeue: [{ ok: true, stdout: '' }], sacct: [{ ok: false, stderr: 'Slurm accounting storage is disabled' }] });
    const q = new Poller(off.cli as any, opts, noLog);
    const obs2 = await q.poll([item(job('4'), '12'), item(job(null), '13')]) as any[];
    expect([obs2[0].result.rc, obs2[1].result.rc, obs2[1].lostReason]).toEqual([4, null, expect.stringContaining('left the Slurm queue')]);
    expect(q.accounting).toBe('off');

    // accounting down (slurmdbd away): wait, do not guess
    const dbd = fakeCli({ squeue: [{ ok: true, stdout: '' }], sacct: [{ ok: false, stderr: 'sacct: error: Problem talking to the database: Connection refused' }] });
    const r = new Poller(dbd.cli as any, { ...opts, missingGraceMs: 60_000 }, noLog);
    expect((await r.poll([item(job(null), '14')]))[0]!.state).toBe('running');
    expect(r.accounting).toBe('down');
  });
});

describe('the submission queue', () => {
  type Reply = { ok: boolean; stdout?: string; stderr?: string; timedOut?: boolean };
  function fakeCli(replies: Record<string, Reply[]>) {
    const calls: { cmd: string; args: string[] }[] = [];
    return {
      calls,
      cli: {
        async run(cmd: string, args: string[]) {
          calls.push({ cmd, args });
          const r = replies[cmd]?.shift() ?? { ok: true, stdout: String(100 + calls.length) };
          return { ok: r.ok, code: r.ok ? 0 : 1, stdout: r.stdout ?? '', stderr: r.stderr ?? '', missing: false, timedOut: !!r.timedOut };
        },
      },
    };
  }
  const noLog = () => ({ info() {}, warn() {}, error() {}, scope() { return noLog(); } });
  function prepared(id: string, group = 'g1', resources: object = { fallback: 'cpu' }) {
    const dir = join(tempDir(), id);
    mkdirSync(dir, { recursive: true });
    return { id, runId: `r-${id}`, attempt: 1, name: 'j', dir, script: join(dir, 'job.sh'), workdir: dir, commandCount: 1, resources, env: {}, timeoutMs: null, groupId: group } as any;
  }
  const opts = (o: object = {}) => ({ ...slurmOptions({}), user: '0', maxBackoffMs: 50, ...o });
  const hooks = () => { const failed: string[] = []; return { failed, h: { failed: (j: any, m: string) => failed.push(`${j.id}: ${m}`), submitted() {} } }; };

  test('jobs of one group and template that wait for the rate cap go together as one array', async () => {
    const { cli, calls } = fakeCli({ sbatch: [{ ok: true, stdout: '7\n' }, { ok: true, stdout: '8;cluster\n' }] });
    const sub = new Submitter(cli as any, opts({ submitsPerMinute: 120, submitBurst: 1 }), hooks().h, noLog);
    const first = sub.enqueue([prepared('a')]);
    await Bun.sleep(40);
    const later = [sub.enqueue([prepared('b')]), sub.enqueue([prepared('c')]), sub.enqueue([prepared('d', 'g2')])];
    expect(sub.waitingReason('b')).toContain('submit-rate cap');
    const [[ha], [hb], [hc], [hd]] = await Promise.all([first, ...later]);
    expect([ha!.slurmId, hb!.slurmId, hc!.slurmId, hd!.slurmId]).toEqual(['7', '8_0', '8_1', '103']);
    expect(calls.map((c) => c.args.find((a) => a.startsWith('--array')) ?? 'single')).toEqual(['single', '--array=0-1', 'single']);
    expect(sub.submittedJobs).toBe(4);
  });

  test('a controller that does not answer is retried with backoff; a refusal fails the jobs', async () => {
    const down = { ok: false, stderr: 'sbatch: error: Batch job submission failed: Unable to contact slurm controller (connect failure)' };
    const { cli, calls } = fakeCli({ sbatch: [down, down, { ok: true, stdout: '9' }, { ok: false, stderr: 'sbatch: error: Batch job submission failed: Invalid partition name specified' }] });
    const { failed, h } = hooks();
    const sub = new Submitter(cli as any, opts(), h, noLog);
    const [ok] = await sub.enqueue([prepared('x')]);
    expect(ok!.slurmId).toBe('9');
    expect(calls.filter((c) => c.cmd === 'sbatch')).toHaveLength(3);
    const [bad] = await sub.enqueue([prepared('y', 'g', { fallback: 'cpu', partition: 'nope' })]);
    expect(bad!.slurmId).toBeNull();
    expect(failed).toEqual(['y: sbatch refused the job: Batch job submission failed: Invalid partition name specified']);
  });

  test('an sbatch that timed out is looked up by its name before any new try: nothing runs twice', async () => {
    const { cli, calls } = fakeCli({
      sbatch: [{ ok: false, timedOut: true, stderr: '(killed after 30000 ms)' }],
      squeue: [{ ok: false, stderr: 'Socket timed out on send/recv operation' }, { ok: true, stdout: '42\n42\n' }],
    });
    const sub = new Submitter(cli as any, opts(), hooks().h, noLog);
    const hs = await sub.enqueue([prepared('p'), prepared('q')]);
    expect(hs.map((h) => h.slurmId)).toEqual(['42_0', '42_1']);
    expect(calls.map((c) => c.cmd)).toEqual(['sbatch', 'squeue', 'squeue']);
    expect(calls[2]!.args).toContain('--name=drover-p-a1');
  });
});
