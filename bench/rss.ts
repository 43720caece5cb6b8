// Memory: the server's VmRSS when idle after start, and with N queued jobs (one POST of an
// N-run sweep on a `--max-parallel 1 --max-sweep 20000` server, group paused at once). Reads
// /proc/<pid>/status of the server pid from server.json; cancels the group before stopping.
import { withServer, now, pollUntil, sweepSpec } from './lib.ts';

export interface RssResult {
  idleMiB: number; queuedJobs: number; loadedMiB: number; peakMiB: number;
  postMs: number; cancelMs: number; settledMs: number | null; note: string;
}

export function droverRss(n: number, timeoutMs: number): Promise<RssResult> {
  return withServer(['--max-parallel', '1', '--max-sweep', '20000'], async (s) => {
    await Bun.sleep(1500); // let start-up allocations settle
    const idleMiB = s.rss().rss;
    const post = await s.must('POST', '/runs', { spec: sweepSpec('bench-rss', n) });
    const groupId: string = post.body.group.id;
    await s.must('POST', `/groups/${groupId}/pause`);
    await Bun.sleep(1000);
    const g = (await s.api('GET', `/groups/${groupId}`)).body;
    const queuedJobs = g.counts?.queued ?? 0;
    const { rss: loadedMiB, hwm: peakMiB } = s.rss();
    const cancel = await s.must('POST', `/groups/${groupId}/cancel`);
    const t0 = now();
    const done = await pollUntil(async () => {
      const c = (await s.api('GET', `/groups/${groupId}`)).body.counts;
      return c && !c.queued && !c.running;
    }, timeoutMs, 100);
    return {
      idleMiB, queuedJobs, loadedMiB, peakMiB, postMs: post.ms, cancelMs: cancel.ms,
      settledMs: done ? cancel.ms + now() - t0 : null,
      // a few jobs start (max-parallel 1) between the POST and the pause: the reading stands for N queued
      note: queuedJobs >= n * 0.99 ? '' : `only ${queuedJobs} of ${n} queued at the reading`,
    };
  });
}
