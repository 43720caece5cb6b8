// Scale (issue #19): one run of N `true` jobs and an N-run sweep (pipeline matrix, one job per run),
// N = 100,000 by default, each on its own `--max-parallel 2` server. Reports the accept time
// (POST → answer), the server's peak RSS (VmHWM) after the answer and at the end, and the drain
// rate of the first and the last 10% of the first DRAIN jobs to finish (a full drain of 100,000
// takes minutes: set DROVER_SCALE_DRAIN=all for it). A third case drains a run of only DRAIN jobs,
// the rate with a short queue, to compare against the rate with N queued.
//   bun bench/scale.ts   env: DROVER_SCALE_N, DROVER_SCALE_DRAIN (a number or all), DROVER_SCALE_ROUNDS,
//                        DROVER_SCALE_CASES (run,sweep,short), DROVER_BENCH_SOURCE=1
import { withServer, now, sleep, wideSpec, sweepSpec, round, medianBy, spread, droverCommand, removeRoots, type BenchServer } from './lib.ts';

const N = Number(process.env.DROVER_SCALE_N ?? 100_000);
const DRAIN = process.env.DROVER_SCALE_DRAIN === 'all' ? N : Number(process.env.DROVER_SCALE_DRAIN ?? 10_000);
const ROUNDS = Number(process.env.DROVER_SCALE_ROUNDS ?? 2);
const SERVER_ARGS = ['--max-parallel', '2', '--max-body', '256M', '--max-sweep', String(Math.max(N, 10_000))];

interface Sample { acceptMs: number; status: number; hwmAfterAccept: number; hwmEnd: number; drained: number; drainS: number; firstRate: number; lastRate: number; flat: number; note: string }

/** The time at which `done` first reached `target`, linearly between two polls. */
function timeAt(progress: { t: number; done: number }[], target: number): number {
  for (let i = 1; i < progress.length; i++) {
    const a = progress[i - 1]!, b = progress[i]!;
    if (b.done >= target) return b.done === a.done ? b.t : a.t + (b.t - a.t) * (target - a.done) / (b.done - a.done);
  }
  return NaN;
}

async function drain(s: BenchServer, total: number, upTo: number, timeoutMs: number) {
  const t0 = now();
  const progress = [{ t: 0, done: 0 }];
  for (;;) {
    const q = (await s.api('GET', '/queue')).body;
    const done = total - (q.running ?? 0) - (q.queued ?? 0);
    progress.push({ t: (now() - t0) / 1000, done });
    if (done >= upTo || now() - t0 > timeoutMs) break;
    await sleep(500);
  }
  const drained = progress.at(-1)!.done;
  const tenth = upTo / 10;
  const rate = (from: number, to: number) => (to - from) / (timeAt(progress, to) - timeAt(progress, from));
  const firstRate = rate(0, tenth), lastRate = rate(upTo - tenth, upTo);
  return { drained, drainS: progress.at(-1)!.t, firstRate, lastRate, flat: lastRate / firstRate };
}

async function measure(kind: 'run' | 'sweep' | 'short', n: number): Promise<Sample> {
  return withServer(SERVER_ARGS, async (s) => {
    await sleep(1000);
    const spec = kind === 'sweep' ? sweepSpec('bench-scale', n) : wideSpec('bench-scale', n);
    const r = await s.api('POST', '/runs', { spec });
    const hwmAfterAccept = s.rss().hwm;
    if (r.status !== 201) return { acceptMs: r.ms, status: r.status, hwmAfterAccept, hwmEnd: hwmAfterAccept, drained: 0, drainS: 0, firstRate: NaN, lastRate: NaN, flat: NaN, note: JSON.stringify(r.body).slice(0, 200) };
    const upTo = Math.min(DRAIN, n);
    const d = await drain(s, n, upTo, 20 * 60_000);
    const hwmEnd = s.rss().hwm;
    return { acceptMs: r.ms, status: r.status, hwmAfterAccept, hwmEnd, ...d, note: d.drained >= upTo ? '' : `drained only ${d.drained}/${upTo}` };
  });
}

const CASES = (process.env.DROVER_SCALE_CASES ?? 'run,sweep,short').split(',');
const cases = [
  { kind: 'run' as const, n: N, label: `one run of ${N} true jobs` },
  { kind: 'sweep' as const, n: N, label: `${N}-run sweep` },
  { kind: 'short' as const, n: DRAIN, label: `one run of ${DRAIN} (short queue)` },
].filter((c) => CASES.includes(c.kind));
console.log(`drover: ${droverCommand().label}; N=${N}, drained ${DRAIN === N ? 'all' : `the first ${DRAIN}`}; ${ROUNDS} round(s); ${SERVER_ARGS.join(' ')}`);
const rows: Record<string, unknown>[] = [];
for (const c of cases) {
  const samples: Sample[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const x = await measure(c.kind, c.n);
    samples.push(x);
    console.log(`  ${c.label} round ${i + 1}: accept ${round(x.acceptMs, 0)} ms (${x.status}), peak RSS ${round(x.hwmAfterAccept)} MiB after accept / ${round(x.hwmEnd)} at end, drain ${x.drained} in ${round(x.drainS)} s: first 10% ${round(x.firstRate)} jobs/s, last 10% ${round(x.lastRate)} jobs/s (x${round(x.flat, 2)}) ${x.note}`);
    removeRoots();
  }
  const m = (k: keyof Sample) => medianBy(samples, (x) => x[k] as number)?.[k] as number;
  rows.push({
    case: c.label, accept_ms: round(m('acceptMs'), 0), accept_spread: spread(samples, (x) => x.acceptMs),
    peak_rss_mib: round(Math.max(...samples.map((x) => x.hwmEnd))), first10_jobs_s: round(m('firstRate')), last10_jobs_s: round(m('lastRate')),
    last_over_first: round(m('flat'), 2), notes: samples.map((x) => x.note).filter(Boolean).join('; '),
  });
}
console.table(rows);
