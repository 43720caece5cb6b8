// Sweep submit latency: one POST /runs whose matrix makes N runs (one trivial job each) on a
// `--max-parallel 1` server; the group is paused right after and then canceled, so almost
// nothing runs. Reports the POST wall time, plus pause/cancel latencies for context.
import { withServer, now, pollUntil, sweepSpec } from './lib.ts';

export interface SweepResult {
  runs: number; postMs: number; runsReturned: number; pauseMs: number; cancelMs: number;
  settledMs: number | null; groupStatus: string; counts: Record<string, number>; note: string;
}

export function droverSweep(n: number, timeoutMs: number): Promise<SweepResult> {
  return withServer(['--max-parallel', '1'], async (s) => {
    await Bun.sleep(500);
    const post = await s.must('POST', '/runs', { spec: sweepSpec('bench-sweep', n) });
    const groupId: string = post.body.group.id;
    const pause = await s.must('POST', `/groups/${groupId}/pause`);
    const cancel = await s.must('POST', `/groups/${groupId}/cancel`);
    const t0 = now();
    const g = await pollUntil(async () => {
      const g = (await s.api('GET', `/groups/${groupId}`)).body;
      return g.counts && !g.counts.queued && !g.counts.running ? g : null;
    }, timeoutMs, 100);
    const last = g ?? (await s.api('GET', `/groups/${groupId}`)).body;
    const runsReturned = post.body.runs?.length ?? 0;
    return {
      runs: n, postMs: post.ms, runsReturned, pauseMs: pause.ms, cancelMs: cancel.ms,
      settledMs: g ? cancel.ms + now() - t0 : null, groupStatus: last.status, counts: last.counts ?? {},
      note: runsReturned === n ? '' : `POST returned ${runsReturned} runs, expected ${n}`,
    };
  });
}
