// The executor contract as cases, each run against a real private server through the HTTP API, the way
// a user's jobs run: nothing here reaches into the executor. Every executor (built-in or plugin) passes
// the same cases; they assume what every drover executor needs anyway: the job folder (and so the
// suite's temp dir, which lies beside it) is visible where the job runs.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PrivateServer } from './server.ts';

export interface SuiteContext {
  server: PrivateServer;
  /** the executor under test (jobs say `executor: <name>`) */
  executor: string;
  /** a scratch dir the jobs can see */
  tmp: string;
  /** start a second server where the backend is missing; null when the plugin gives no way to */
  unavailableServer: (() => Promise<PrivateServer>) | null;
  /** how long a job may take to be seen ending (a batch system is slower than a fork) */
  slowMs: number;
}

export interface Case {
  name: string;
  what: string;
  /** cases of one phase run at once on one server; `restart` cases kill it */
  phase: 'jobs' | 'restart' | 'unavailable';
  run(c: SuiteContext): Promise<void | { skip: string }>;
}

type Job = {
  id: string; status: string; reason: string | null; message: string | null; exit_code: number | null; attempt: number;
  outputs: Record<string, string>; commands: { index: number; exit_code: number | null; started_at: string | null; ended_at: string | null; log_size: number }[];
};

export class CaseFailure extends Error {}
function expect(cond: unknown, msg: string): asserts cond { if (!cond) throw new CaseFailure(msg); }

const TERMINAL = new Set(['succeeded', 'failed', 'canceled', 'skipped']);
let seq = 0;

/** Submit a one-job pipeline on the executor under test; its run id. */
async function submit(c: SuiteContext, job: Record<string, unknown>, extra: Record<string, unknown> = {}, server = c.server): Promise<string> {
  const spec = { name: `conformance-${++seq}`, ...extra, stages: [{ name: 's', jobs: [{ name: 'j', executor: c.executor, ...job }] }] };
  const r = await server.api('POST', '/runs', { spec });
  expect(r.status === 201, `submit answered ${r.status}: ${JSON.stringify(r.body).slice(0, 300)}`);
  return (r.body as { run: { id: string } }).run.id;
}

async function jobOf(server: PrivateServer, runId: string): Promise<Job> {
  const r = await server.api('GET', `/runs/${runId}`);
  expect(r.status === 200, `GET /runs/${runId} answered ${r.status}`);
  return (r.body as { stages: { jobs: Job[] }[] }).stages[0]!.jobs[0]!;
}

async function until<T>(what: string, ms: number, fn: () => Promise<T | null | undefined | false>): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new CaseFailure(`${what} did not happen within ${Math.round(ms / 1000)} s`);
    await Bun.sleep(100);
  }
}

const ended = (c: SuiteContext, runId: string, ms = c.slowMs, server = c.server) =>
  until('the job ending', ms, async () => { const j = await jobOf(server, runId); return TERMINAL.has(j.status) ? j : null; });
const running = (c: SuiteContext, runId: string) =>
  until('the job running', c.slowMs, async () => { const j = await jobOf(c.server, runId); expect(!TERMINAL.has(j.status), `the job ended (${j.status}, ${j.reason}: ${j.message}) before it was seen running`); return j.status === 'running' ? j : null; });
const text = (b: Uint8Array) => new TextDecoder().decode(b);
const fileLines = (f: string) => existsSync(f) ? readFileSync(f, 'utf8').split('\n').filter(Boolean) : [];
const describe = (j: Job) => `${j.status}${j.reason ? ` (${j.reason}: ${j.message})` : ''}`;

/** A file that changes every 200 ms while the command runs: proof that a process is (not) alive. */
const heartbeat = (file: string) => `while :; do date +%s%N > ${file}; sleep 0.2; done`;
const read = (f: string) => existsSync(f) ? readFileSync(f, 'utf8') : '';
/** The heartbeat stops within `ms` (a batch system may end the job first and kill its processes after
 *  its own grace, e.g. Slurm's KillWait): false when it never stopped. */
async function stopsBeating(file: string, ms = 20_000): Promise<boolean> {
  const end = Date.now() + ms;
  let last = read(file);
  for (;;) {
    await Bun.sleep(1200);
    const now = read(file);
    if (now === last) return true;
    last = now;
    if (Date.now() > end) return false;
  }
}

/** A value no shell may interpret: quotes, substitutions (that would create `pwned`), globs, a newline. */
export const hostile = (pwned: string) => `it's "quoted" $(touch ${pwned}) \`touch ${pwned}\` $HOME \\ ; | & < > * ? ~ #SBATCH --x\nline2 'end`;

export const CASES: Case[] = [
  {
    name: 'succeeds', phase: 'jobs', what: 'a two-command job succeeds; each command has its own log, exit code and times',
    async run(c) {
      const j = await ended(c, await submit(c, { commands: ['echo first-out', 'echo second-err >&2; echo second-out'] }));
      expect(j.status === 'succeeded', `job ${describe(j)}, expected succeeded`);
      expect(j.exit_code === 0, `exit_code ${j.exit_code}, expected 0`);
      for (const cmd of j.commands) expect(cmd.exit_code === 0 && cmd.started_at && cmd.ended_at, `command ${cmd.index}: exit ${cmd.exit_code}, started ${cmd.started_at}, ended ${cmd.ended_at}`);
      const l0 = text(await c.server.log(j.id, 0)), l1 = text(await c.server.log(j.id, 1));
      expect(l0.includes('first-out') && !l0.includes('second'), `command 0's log is ${JSON.stringify(l0.slice(0, 200))}`);
      expect(l1.includes('second-err') && l1.includes('second-out'), `command 1's log is ${JSON.stringify(l1.slice(0, 200))}`);
    },
  },
  {
    name: 'exit_code', phase: 'jobs', what: "a failing command's exit code fails the job; the commands after it do not run",
    async run(c) {
      const j = await ended(c, await submit(c, { commands: ['true', 'exit 3', 'echo must-not-run'] }));
      expect(j.status === 'failed' && j.reason === 'exit_code', `job ${describe(j)}, expected failed (exit_code)`);
      expect(j.exit_code === 3, `exit_code ${j.exit_code}, expected 3`);
      expect(j.commands[1]!.exit_code === 3 && j.commands[2]!.exit_code === null, `commands' exit codes ${JSON.stringify(j.commands.map((x) => x.exit_code))}, expected [0,3,null]`);
    },
  },
  {
    name: 'allow_failure', phase: 'jobs', what: 'a command with allow_failure may fail; the job goes on and succeeds',
    async run(c) {
      const j = await ended(c, await submit(c, { commands: [{ run: 'exit 5', allow_failure: true }, 'echo after'] }));
      expect(j.status === 'succeeded', `job ${describe(j)}, expected succeeded`);
      expect(j.commands[0]!.exit_code === 5 && j.commands[1]!.exit_code === 0, `commands' exit codes ${JSON.stringify(j.commands.map((x) => x.exit_code))}, expected [5,0]`);
    },
  },
  {
    name: 'outputs', phase: 'jobs', what: 'key=value lines appended to $DROVER_OUTPUT become the job\'s outputs',
    async run(c) {
      const j = await ended(c, await submit(c, { commands: ['echo "rev=abc 123" >> "$DROVER_OUTPUT"', 'echo "score=0.5" >> "$DROVER_OUTPUT"'] }));
      expect(j.status === 'succeeded', `job ${describe(j)}`);
      expect(j.outputs.rev === 'abc 123' && j.outputs.score === '0.5', `outputs ${JSON.stringify(j.outputs)}, expected {rev: "abc 123", score: "0.5"}`);
    },
  },
  {
    name: 'timeout', phase: 'jobs', what: 'a job past its timeout gets TERM, then KILL when it ignores TERM; it fails timeout',
    async run(c) {
      const beat = join(c.tmp, 'timeout.beat');
      // (command 0: an executor may write a line of its own at the top of the first log, like gpu's device line)
      const runId = await submit(c, { timeout: '5s', commands: ['true', `trap 'echo got-TERM' TERM; ${heartbeat(beat)}`] });
      await running(c, runId);
      await until('the command starting before its timeout (a slow backend? raise --job-timeout)', 5000, async () => existsSync(beat));
      const j = await ended(c, runId, c.slowMs + 15_000);
      expect(j.status === 'failed' && j.reason === 'timeout', `job ${describe(j)}, expected failed (timeout)`);
      expect(await stopsBeating(beat), 'the job\'s command still runs 20 s after its timeout ended the job (TERM ignored, and no KILL?)');
      const log = text(await c.server.log(j.id, 1));
      expect(log.includes('got-TERM'), `the command never got TERM before KILL (its log: ${JSON.stringify(log.slice(-200))})`);
    },
  },
  {
    name: 'cancel', phase: 'jobs', what: 'cancel of a running job stops its processes; the job ends canceled',
    async run(c) {
      const beat = join(c.tmp, 'cancel.beat');
      const runId = await submit(c, { commands: [heartbeat(beat)] });
      const r = await running(c, runId);
      await until('the command running', c.slowMs, async () => existsSync(beat));
      const res = await c.server.api('POST', `/jobs/${r.id}/cancel`);
      expect(res.status === 200, `cancel answered ${res.status}`);
      const j = await ended(c, runId);
      expect(j.status === 'canceled', `job ${describe(j)}, expected canceled`);
      expect(await stopsBeating(beat), 'the canceled job\'s command still runs 20 s later');
    },
  },
  {
    name: 'quoting', phase: 'jobs', what: 'hostile params and env reach the command byte for byte and run nothing',
    async run(c) {
      const pwned = join(c.tmp, 'PWNED'), HOSTILE = hostile(pwned);
      const j = await ended(c, await submit(c, {
        env: { HOSTILE },
        commands: ['true', 'printf "%s" ${{ params.v }}', 'printf "%s" "$HOSTILE"', "printf '%s' '${{ params.v }}'"],
      }, { params: { v: HOSTILE } }));
      expect(j.status === 'succeeded', `job ${describe(j)}`);
      for (const i of [1, 2, 3]) {
        const got = text(await c.server.log(j.id, i));
        expect(got === HOSTILE, `command ${i} printed ${JSON.stringify(got.slice(0, 120))}, expected the value itself`);
      }
      expect(!existsSync(pwned), 'a param or env value ran code (it created a file)');
    },
  },
  {
    name: 'big_log', phase: 'jobs', what: 'a 5 MB log of arbitrary bytes is stored byte for byte',
    async run(c) {
      const file = join(c.tmp, 'big.bin');
      const data = randomBytes(5 * 1024 * 1024);
      writeFileSync(file, data);
      const j = await ended(c, await submit(c, { commands: ['true', 'cat ${{ params.f }}'] }, { params: { f: file } }));
      expect(j.status === 'succeeded', `job ${describe(j)}`);
      const got = await c.server.log(j.id, 1);
      const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
      expect(got.length === data.length && sha(got) === sha(data), `the stored log has ${got.length} bytes (sha256 ${sha(got).slice(0, 12)}), expected ${data.length} (${sha(data).slice(0, 12)})`);
    },
  },
  {
    name: 'adopt_running', phase: 'restart', what: 'after kill -9 of the server while the job runs, the next server re-adopts it: it ends once, not rerun',
    async run() { throw new Error('run by the restart phase'); },
  },
  {
    name: 'adopt_ended', phase: 'restart', what: 'a job that ended while the server was down is found ended by the next server, with its result',
    async run() { throw new Error('run by the restart phase'); },
  },
  {
    name: 'unavailable', phase: 'unavailable', what: 'with its backend missing, detect() says so and `why` shows executor_unavailable',
    async run(c) {
      if (!c.unavailableServer) return { skip: 'the plugin declares no conformance.unavailable settings' };
      const s = await c.unavailableServer();
      try {
        const runId = await submit(c, { commands: ['true'] }, {}, s);
        const j = await jobOf(s, runId);
        const why = await until('executor_unavailable in why', 15_000, async () => {
          const w = await s.api('GET', `/jobs/${j.id}/why`);
          const reasons = (w.body as { reasons?: { code: string; message: string }[] }).reasons ?? [];
          return reasons.find((r) => r.code === 'executor_unavailable') ?? null;
        });
        const q = await s.api('GET', '/queue');
        const ex = (q.body as { executors: Record<string, { available?: boolean }> }).executors[c.executor];
        expect(ex?.available === false, `GET /queue shows the executor as ${JSON.stringify(ex)}, expected available: false`);
        expect(why.message.length > 0, 'why names no reason');
      } finally { await s.stop(); }
    },
  },
];

/** Both restart cases with one kill -9: a long job (still running at restart) and a short one (ends while down). */
export async function runRestartPhase(c: SuiteContext): Promise<Record<string, string | null>> {
  const longCount = join(c.tmp, 'adopt-running.count'), shortCount = join(c.tmp, 'adopt-ended.count');
  const longRun = await submit(c, { commands: [`echo start >> ${longCount}; sleep 8; echo end >> ${longCount}; echo "adopted=yes" >> "$DROVER_OUTPUT"`] });
  const shortRun = await submit(c, { commands: [`echo start >> ${shortCount}; sleep 1; echo end >> ${shortCount}; echo "ended=while-down" >> "$DROVER_OUTPUT"`] });
  const out: Record<string, string | null> = { adopt_running: null, adopt_ended: null };
  await running(c, longRun);
  await running(c, shortRun);
  await until('both jobs starting their commands', c.slowMs, async () => fileLines(longCount).length > 0 && fileLines(shortCount).length > 0);
  await c.server.kill9();
  await until('the short job ending while the server is down', 20_000, async () => fileLines(shortCount).includes('end'));
  await Bun.sleep(500);
  await c.server.start();
  const check = async (name: string, runId: string, count: string, key: string) => {
    try {
      const j = await ended(c, runId, c.slowMs + 20_000);
      expect(j.status === 'succeeded', `job ${describe(j)}, expected succeeded`);
      expect(j.attempt === 1, `the job is on attempt ${j.attempt}: it was started again`);
      const lines = fileLines(count);
      expect(lines.filter((l) => l === 'start').length === 1, `the job's command ran ${lines.filter((l) => l === 'start').length} times`);
      expect(j.outputs[key] !== undefined, `outputs ${JSON.stringify(j.outputs)}: the result was not read back`);
    } catch (e) { out[name] = (e as Error).message; }
  };
  await Promise.all([check('adopt_running', longRun, longCount, 'adopted'), check('adopt_ended', shortRun, shortCount, 'ended')]);
  // a restarted job would write a second start line a little later
  await Bun.sleep(1000);
  for (const [name, f] of [['adopt_running', longCount], ['adopt_ended', shortCount]] as const) {
    if (!out[name] && fileLines(f).filter((l) => l === 'start').length !== 1) out[name] = `the job's command ran ${fileLines(f).filter((l) => l === 'start').length} times`;
  }
  return out;
}
