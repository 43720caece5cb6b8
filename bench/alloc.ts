// `bun bench/alloc.ts [N]` (default 2000): N `sleep 0.1` jobs on the real Slurm test cluster three ways,
// in the same run: (1) drover's allocation queue (BENCH_ALLOC_ALLOCS allocations, default 2, of
// BENCH_ALLOC_CPUS CPUs, default 1 — the test node has 2 CPUs), (2) drover's Slurm executor, which sends
// a sweep out as job arrays, and (3) one `sbatch --wrap` per job from a shell loop. Reports wall time
// (POST/first sbatch → all done), sbatch calls and jobs/s. Not a test; needs tests/cluster/start.sh.
// The cluster may be shared: BENCH_ALLOC_WAYS=alloc,array,loop picks the ways to run.
import { withServer, now, round, sleep, removeRoots, droverCommand, loadClusterEnv, sh } from './lib.ts';

const N = Number(process.argv[2] ?? 2000) || 2000;
const ALLOCS = Number(process.env.BENCH_ALLOC_ALLOCS ?? 2);
const CPUS = Number(process.env.BENCH_ALLOC_CPUS ?? 1);
const WAYS = (process.env.BENCH_ALLOC_WAYS ?? 'alloc,array,loop').split(',');
const TIMEOUT_MS = Number(process.env.BENCH_SLURM_TIMEOUT_MS ?? 1_800_000);
const CMD = 'sleep 0.1';

loadClusterEnv();
const metric = (text: string, line: RegExp) => Number(text.split('\n').find((l) => line.test(l))?.split(' ').pop() ?? NaN);

interface Row { way: string; ok: string; wallS: number; sbatch: number; jobsPerS: number; note: string }

async function waitRun(s: any, runId: string, t0: number) {
  for (;;) {
    const run = (await s.api('GET', `/runs/${runId}`)).body;
    if (['succeeded', 'failed', 'canceled'].includes(run.status)) return run;
    if (now() - t0 > TIMEOUT_MS) throw new Error(`not done within ${TIMEOUT_MS / 1000} s`);
    await sleep(250);
  }
}

async function allocQueue(): Promise<Row> {
  process.env.DROVER_ALLOC_PASS_INTERVAL = '1s';
  return withServer(['--max-parallel', '2'], async (s) => {
    const add = await s.must('POST', '/alloc/queues', { pool: 'bench', time: '30m', max_allocs: ALLOCS, backlog: ALLOCS, idle: '5s', sbatch_args: [`--cpus-per-task=${CPUS}`] });
    const spec = { name: 'bench-alloc', stages: [{ name: 'main', jobs: Array.from({ length: N }, (_, i) => ({ name: `j${i}`, executor: 'agent', pool: 'bench', commands: [CMD] })) }] };
    const t0 = now();
    const post = await s.must('POST', '/runs', { spec });
    const run = await waitRun(s, post.body.run.id, t0);
    const wallS = (now() - t0) / 1000;
    const q = (await s.api('GET', `/alloc/queues/${add.body.name}`)).body;
    const ok = run.stages[0].jobs.filter((j: any) => j.status === 'succeeded').length;
    // let the allocations end by themselves (idle) before the next way uses the cluster
    for (let i = 0; i < 120; i++) { const c = (await s.api('GET', `/alloc/queues/${add.body.name}`)).body.counts; if (!c.pending && !c.running && !c.submitting) break; await sleep(1000); }
    return { way: `allocation queue (${ALLOCS} × ${CPUS} CPU)`, ok: `${ok}/${N}`, wallS, sbatch: q.sbatch_calls, jobsPerS: ok / wallS, note: `jobs per allocation ${q.allocations.map((a: any) => a.jobs_run).join('+')}` };
  });
}

async function jobArray(): Promise<Row> {
  process.env.DROVER_SLURM_SUBMITS_PER_MIN = '600';
  return withServer(['--max-parallel', '2'], async (s) => {
    const spec = { name: 'bench-array', stages: [{ name: 'main', jobs: Array.from({ length: N }, (_, i) => ({ name: `j${i}`, executor: 'slurm', commands: [CMD] })) }] };
    const t0 = now();
    const post = await s.must('POST', '/runs', { spec });
    const run = await waitRun(s, post.body.run.id, t0);
    const wallS = (now() - t0) / 1000;
    const metrics = await fetch(`${s.url}/metrics`, { headers: { authorization: `Bearer ${s.token}` } }).then((r) => r.text());
    const ok = run.stages[0].jobs.filter((j: any) => j.status === 'succeeded').length;
    return { way: 'drover slurm executor (job arrays)', ok: `${ok}/${N}`, wallS, sbatch: metric(metrics, /^drover_slurm_calls_total\{command="sbatch"\}/), jobsPerS: ok / wallS, note: '' };
  });
}

async function shellLoop(): Promise<Row> {
  const name = `bench-alloc-loop-${process.pid}`;
  const since = new Date(Date.now() - 60_000).toISOString().slice(0, 19); // (sacct's -S, local clock)
  const t0 = now();
  sh(['bash', '-c', `for i in $(seq 1 ${N}); do sbatch --parsable --job-name=${name} --output=/dev/null --wrap '${CMD}' >/dev/null || exit 1; done`]);
  const submittedS = (now() - t0) / 1000;
  // done when none is left in squeue (finished jobs leave squeue after MinJobAge, so they cannot be
  // counted there); how many completed comes from accounting
  for (;;) {
    const active = sh(['squeue', '--noheader', `--name=${name}`, '--states=PENDING,RUNNING,CONFIGURING,COMPLETING', '--format=%T']).split('\n').filter(Boolean);
    if (active.length === 0) {
      const wallS = (now() - t0) / 1000;
      const states = sh(['sacct', '--noheader', '-X', `--name=${name}`, `--starttime=${since}`, '--format=State%20']).split('\n').map((l) => l.trim()).filter(Boolean);
      const ok = states.filter((st) => st === 'COMPLETED').length;
      return { way: 'one sbatch per job (shell loop)', ok: states.length ? `${ok}/${N}` : 'no sacct', wallS, sbatch: N, jobsPerS: (states.length ? ok : N) / wallS, note: `the ${N} sbatch calls alone took ${round(submittedS)} s` };
    }
    if (now() - t0 > TIMEOUT_MS) throw new Error(`the loop's jobs did not finish within ${TIMEOUT_MS / 1000} s`);
    await sleep(500);
  }
}

const busy = sh(['squeue', '--noheader']).split('\n').filter(Boolean).length;
if (busy) console.log(`warning: ${busy} job(s) already in the Slurm queue (shared cluster); figures are noisy`);
const rows: Row[] = [];
for (const [way, fn] of [['alloc', allocQueue], ['array', jobArray], ['loop', shellLoop]] as const) {
  if (!WAYS.includes(way)) continue;
  process.stderr.write(`bench: ${way} …\n`);
  const row = await fn();
  rows.push(row);
  process.stderr.write(`bench: ${way}: ${JSON.stringify(row)}\n`);
}
removeRoots();
console.log(`\n${N} × \`${CMD}\` on the Slurm test cluster (${sh(['sinfo', '--noheader', '--format=%n %c']).trim()} CPUs; ${droverCommand().label})\n`);
for (const r of rows) console.log(`${r.way.padEnd(38)} ${r.ok.padStart(11)}  wall ${String(round(r.wallS)).padStart(7)} s  sbatch ${String(r.sbatch).padStart(5)}  ${round(r.jobsPerS, 1)} jobs/s  ${r.note}`);
console.log(JSON.stringify(rows));
