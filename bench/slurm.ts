// `bun bench/slurm.ts [N]` (default N = 500; BENCH_SLURM_ROUNDS rounds, default 1): an N-run sweep on the
// real Slurm test cluster through drover (one trivial job per run, the executor's default settings),
// next to the same N jobs submitted one `sbatch` each from a shell loop. Reports wall times (submit and
// all done) and the Slurm client calls drover made (from /metrics). Not a test; needs the cluster of
// tests/cluster/start.sh (SLURM_CONF set, or $DROVER_CLUSTER_DIR/env.sh). Exits 1 when a target is missed:
// one sbatch for the sweep, squeue calls per minute independent of N, wall time no worse than the loop.
import { withServer, now, round, sleep, removeRoots, sweepSpec, loadClusterEnv, sh } from './lib.ts';

const N = Number(process.argv[2] ?? 500) || 500;
const ROUNDS = Math.max(1, Number(process.env.BENCH_SLURM_ROUNDS ?? 1) || 1);
const TIMEOUT_MS = Number(process.env.BENCH_SLURM_TIMEOUT_MS ?? 900_000);

loadClusterEnv();


const metricOf = (text: string, name: string) => Number(text.split('\n').find((l) => l.startsWith(name + ' '))?.split(' ')[1] ?? NaN);

async function droverSweep(n: number) {
  return withServer(['--max-parallel', '2'], async (s) => {
    const t0 = now();
    const post = await s.must('POST', '/runs', { spec: { ...sweepSpec('bench-slurm', n), stages: [{ name: 'main', jobs: [{ name: 'j', executor: 'slurm', commands: ['true'] }] }] } });
    const groupId: string = post.body.group.id;
    let submittedMs: number | null = null;
    let group: any = null;
    for (;;) {
      const metrics = await fetch(`${s.url}/metrics`, { headers: { authorization: `Bearer ${s.token}` } }).then((r) => r.text());
      if (submittedMs === null && metricOf(metrics, 'drover_slurm_jobs_submitted_total') >= n) submittedMs = now() - t0;
      group = (await s.api('GET', `/groups/${groupId}`)).body;
      if (['succeeded', 'failed', 'canceled'].includes(group.status)) break;
      if (now() - t0 > TIMEOUT_MS) throw new Error(`the sweep did not finish within ${TIMEOUT_MS / 1000} s: ${JSON.stringify(group.counts)}`);
      await sleep(250);
    }
    const wallMs = now() - t0;
    const q = (await s.api('GET', '/queue')).body.executors.slurm;
    return { wallMs, submittedMs, status: group.status, counts: group.counts, calls: q.calls, failures: q.failures, squeuePerMin: q.calls.squeue / (wallMs / 60_000) };
  });
}

async function shellLoop(n: number) {
  const name = `bench-loop-${process.pid}-${Date.now()}`;
  const t0 = now();
  sh(['bash', '-c', `for i in $(seq 1 ${n}); do sbatch --parsable --job-name=${name} --output=/dev/null --wrap true >/dev/null || exit 1; done`]);
  const submittedMs = now() - t0;
  for (;;) {
    const states = sh(['squeue', '--noheader', '--states=all', `--name=${name}`, '--format=%T']).split('\n').filter(Boolean);
    if (states.length >= n && states.every((st) => !['PENDING', 'RUNNING', 'COMPLETING', 'CONFIGURING'].includes(st))) {
      return { wallMs: now() - t0, submittedMs, completed: states.filter((st) => st === 'COMPLETED').length };
    }
    if (now() - t0 > TIMEOUT_MS) throw new Error(`the loop's jobs did not finish within ${TIMEOUT_MS / 1000} s`);
    await sleep(250);
  }
}

sh(['sinfo', '--noheader']);
const busy = sh(['squeue', '--noheader']).split('\n').filter(Boolean).length;
if (busy) console.log(`warning: ${busy} job(s) already in the Slurm queue; figures are noisy`);

const rows: string[] = [];
let pass = true;
for (let r = 1; r <= ROUNDS; r++) {
  process.stderr.write(`bench: round ${r}: drover sweep of ${N} on Slurm …\n`);
  const d = await droverSweep(N);
  process.stderr.write(`bench: round ${r}: shell loop of ${N} sbatch …\n`);
  const l = await shellLoop(N);
  rows.push(
    `round ${r}  drover sweep: ${d.status} (${d.counts.succeeded}/${N}) in ${round(d.wallMs / 1000)} s, all submitted after ${round((d.submittedMs ?? NaN) / 1000, 2)} s; ` +
      `calls sbatch ${d.calls.sbatch}, squeue ${d.calls.squeue} (${round(d.squeuePerMin)}/min), sacct ${d.calls.sacct}, scancel ${d.calls.scancel}; failures ${JSON.stringify(d.failures)}`,
    `round ${r}  shell loop:   ${l.completed}/${N} completed in ${round(l.wallMs / 1000)} s, ${N} sbatch calls taking ${round(l.submittedMs / 1000, 2)} s`,
  );
  const ok = d.status === 'succeeded' && d.calls.sbatch === 1 && d.squeuePerMin <= 60_000 / 1000 + 1 && d.wallMs <= l.wallMs * 1.05;
  rows.push(`round ${r}  targets: one sbatch ${d.calls.sbatch === 1 ? 'yes' : 'NO'}; squeue ≤ 1/s whatever N ${d.squeuePerMin <= 61 ? 'yes' : 'NO'}; ` +
    `wall no worse than the loop (5% noise) ${d.wallMs <= l.wallMs * 1.05 ? 'yes' : 'NO'} (${round(d.wallMs / l.wallMs, 2)}×)`);
  pass &&= ok;
}
console.log(`\ndrover on Slurm — ${N}-run sweep vs ${N}× sbatch in a shell loop\n`);
for (const row of rows) console.log(row);
removeRoots();
process.exit(pass ? 0 : 1);
