// Throughput: one run with ONE stage of N `true` jobs on a `--max-parallel 2` server, timed
// from POST /runs until every job is terminal (GET /queue polled every ~100 ms, then one
// GET /runs/:id to check that all N jobs succeeded). Also records idle RSS before the run.
import { withServer, now, pollUntil, wideSpec, type BenchServer } from './lib.ts';

export interface ThroughputResult {
  jobs: number; seconds: number | null; jobsPerSec: number | null;
  succeeded: number; statuses: Record<string, number>; postMs: number;
  idleRssMiB: number; afterRssMiB: number; peakRssMiB: number;
  progress: { t: number; done: number }[]; note: string;
}

const TERMINAL = new Set(['succeeded', 'failed', 'canceled', 'skipped']);

function countStatuses(run: any): Record<string, number> {
  const out: Record<string, number> = {};
  for (const st of run.stages ?? []) for (const j of st.jobs ?? []) out[j.status] = (out[j.status] ?? 0) + 1;
  return out;
}

async function measure(s: BenchServer, n: number, timeoutMs: number): Promise<ThroughputResult> {
  await Bun.sleep(1000);
  const idle = s.rss().rss;
  const t0 = now();
  const post = await s.must('POST', '/runs', { spec: wideSpec('bench-throughput', n) });
  const runId: string = post.body.run.id;
  const progress: { t: number; done: number }[] = [];
  // Cheap progress from /queue; the run itself is fetched only to confirm.
  const drained = await pollUntil(async () => {
    const q = (await s.api('GET', '/queue')).body;
    const done = n - (q.running ?? 0) - (q.queued ?? 0);
    progress.push({ t: (now() - t0) / 1000, done });
    if (q.running || q.queued) return null;
    const run = (await s.api('GET', `/runs/${runId}`)).body;
    return TERMINAL.has(run.status) ? run : null;
  }, timeoutMs, 100);
  const seconds = (now() - t0) / 1000;
  const run = drained ?? (await s.api('GET', `/runs/${runId}`)).body;
  const statuses = countStatuses(run);
  const succeeded = statuses.succeeded ?? 0;
  const { rss, hwm } = s.rss();
  const finished = Object.entries(statuses).filter(([k]) => TERMINAL.has(k)).reduce((a, [, v]) => a + v, 0);
  return {
    jobs: n, seconds: drained ? seconds : null,
    jobsPerSec: drained ? n / seconds : finished / seconds,
    succeeded, statuses, postMs: post.ms, idleRssMiB: idle, afterRssMiB: rss, peakRssMiB: hwm, progress,
    note: drained ? (run.status === 'succeeded' ? '' : `run ended ${run.status}`) : `timed out after ${Math.round(seconds)} s with ${finished}/${n} terminal`,
  };
}

export function droverThroughput(n: number, timeoutMs: number): Promise<ThroughputResult> {
  return withServer(['--max-parallel', '2'], (s) => measure(s, n, timeoutMs));
}
