// Fan-out benchmark (not a test): N points of `true` as a job-level matrix in ONE run, next to the
// same N as a top-level sweep (a group of N runs), each on a fresh server with the same flags.
// Reports the POST wall time, the server's RSS after the submit and its peak, and the end-to-end
// time until everything ended (polled through light endpoints: the run list, the group counts).
//   bun bench/fanout.ts [N=10000] [--max-parallel 4]
import { withServer, now, pollUntil, round, removeRoots, droverCommand } from './lib.ts';
import { cpus } from 'node:os';

export interface FanoutResult {
  shape: 'job matrix (1 run)' | 'sweep (group of runs)'; points: number; postMs: number;
  rssAfterPostMiB: number; peakMiB: number; endToEndS: number | null; status: string;
}

const points = (n: number) => Array.from({ length: n }, (_, i) => i);

export function jobMatrix(n: number, args: string[], timeoutMs: number): Promise<FanoutResult> {
  return withServer(args, async (s) => {
    await Bun.sleep(1000);
    const t0 = now();
    const post = await s.must('POST', '/runs', { spec: { name: 'bench-fan', stages: [{ name: 'main', jobs: [{ name: 'p', matrix: { i: points(n) }, commands: ['true'] }] }] } });
    const rssAfterPostMiB = s.rss().rss;
    const runId: string = post.body.run.id;
    const end = await pollUntil(async () => {
      const r = (await s.api('GET', '/runs?pipeline=bench-fan&limit=1')).body.items[0];
      return r && ['succeeded', 'failed', 'canceled'].includes(r.status) && r.id === runId ? r : null;
    }, timeoutMs, 250);
    return { shape: 'job matrix (1 run)', points: n, postMs: post.ms, rssAfterPostMiB, peakMiB: s.rss().hwm, endToEndS: end ? (now() - t0) / 1000 : null, status: end?.status ?? 'timeout' };
  });
}

export function sweep(n: number, args: string[], timeoutMs: number): Promise<FanoutResult> {
  return withServer(args, async (s) => {
    await Bun.sleep(1000);
    const t0 = now();
    const post = await s.must('POST', '/runs', { spec: { name: 'bench-sweep', matrix: { i: points(n) }, stages: [{ name: 'main', jobs: [{ name: 'p', commands: ['true'] }] }] } });
    const rssAfterPostMiB = s.rss().rss;
    const groupId: string = post.body.group.id;
    const end = await pollUntil(async () => {
      const g = (await s.api('GET', `/groups/${groupId}`)).body;
      return ['succeeded', 'failed', 'canceled'].includes(g.status) ? g : null;
    }, timeoutMs, 250);
    return { shape: 'sweep (group of runs)', points: n, postMs: post.ms, rssAfterPostMiB, peakMiB: s.rss().hwm, endToEndS: end ? (now() - t0) / 1000 : null, status: end?.status ?? 'timeout' };
  });
}

if (import.meta.main) {
  const n = Number(process.argv[2] ?? 10_000);
  const mp = process.argv.indexOf('--max-parallel');
  const args = ['--max-parallel', mp > 0 ? process.argv[mp + 1]! : '4', '--max-sweep', String(Math.max(10_000, n))];
  const timeoutMs = 30 * 60_000;
  const rows: FanoutResult[] = [];
  try {
    rows.push(await jobMatrix(n, args, timeoutMs));
    rows.push(await sweep(n, args, timeoutMs));
  } finally { removeRoots(); }
  console.log(`drover fan-out bench — ${droverCommand().label}, ${cpus().length} CPUs, bun ${Bun.version}, serve ${args.join(' ')}`);
  console.log('shape                  points  POST ms  RSS after POST MiB  peak MiB  end-to-end s  status');
  for (const r of rows) {
    console.log(`${r.shape.padEnd(22)} ${String(r.points).padStart(6)}  ${String(round(r.postMs, 0)).padStart(7)}  ${String(round(r.rssAfterPostMiB)).padStart(18)}  ${String(round(r.peakMiB)).padStart(8)}  ${String(r.endToEndS === null ? '-' : round(r.endToEndS)).padStart(12)}  ${r.status}`);
  }
}
