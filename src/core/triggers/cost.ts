// Resource use of finished job attempts: wall seconds (the attempt's start → end), CPU seconds
// (user + sys of the job's processes, from the runner's `times` line in job.out) and GPU seconds
// (wall × the GPUs in jobs.device). One row per attempt, written once; runs, groups and pipelines
// (per trigger kind) are sums over these rows (db/repos/triggers.ts).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readCpuTimes } from '../../runner/meta.ts';
import { isoNow } from '../ids.ts';
import type { Store } from '../ports.ts';
import type { JobRow } from '../types.ts';

/** The folder an attempt's files are in: attempt-N/ once a later attempt has moved them aside. */
export function attemptDir(jobDir: string, attempt: number): string {
  const aside = join(jobDir, `attempt-${attempt}`);
  return existsSync(join(aside, 'job.out')) ? aside : jobDir;
}

export function gpusOf(job: Pick<JobRow, 'device'>): number {
  if (!job.device) return 0;
  try {
    const d = JSON.parse(job.device) as { type?: string; indices?: unknown[] };
    return d.type === 'gpu' && Array.isArray(d.indices) ? d.indices.length : 0;
  } catch { return 0; }
}

/** Record the cost of every finished attempt of the job that has none yet; idempotent. */
export function recordJobCosts(store: Store, jobId: string): number {
  const job = store.getJob(jobId);
  if (!job) return 0;
  let n = 0;
  for (const a of store.attemptsOf(jobId)) {
    if (!a.started_at || !a.ended_at || store.triggers.costRecorded(jobId, a.attempt)) continue;
    const run = store.getRun(job.run_id);
    if (!run) return n;
    const wall = Math.max(0, (Date.parse(a.ended_at) - Date.parse(a.started_at)) / 1000);
    const cpu = readCpuTimes(attemptDir(join(run.dir, 'jobs', job.id), a.attempt));
    let kind = 'api';
    try { kind = String((JSON.parse(run.trigger) as { kind?: unknown }).kind ?? 'api'); } catch { /* keep api */ }
    store.triggers.costInsert({
      job_id: job.id, attempt: a.attempt, run_id: run.id, group_id: run.group_id, pipeline: run.pipeline, trigger_kind: kind,
      cpu_seconds: cpu ? cpu.children_user + cpu.children_sys : null, wall_seconds: wall, gpu_seconds: wall * gpusOf(job), at: isoNow(),
    });
    n++;
  }
  return n;
}
