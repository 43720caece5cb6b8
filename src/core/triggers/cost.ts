// Resource use of finished job attempts: wall seconds (the attempt's start → end), CPU seconds
// (user + sys of the job's processes, the runner's own included, from its `times` line in job.out) and GPU seconds
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

/** Record the cost of every finished attempt of these jobs that has none yet (one query for all); idempotent. */
export function recordJobCosts(store: Store, jobIds: readonly string[]): number {
  if (jobIds.length === 0) return 0;
  const due = store.triggers.attemptsDueCost(jobIds);
  const at = isoNow();
  store.triggers.costInsertMany(due.map((a) => {
    const wall = Math.max(0, (Date.parse(a.ended_at) - Date.parse(a.started_at)) / 1000);
    const cpu = readCpuTimes(attemptDir(join(a.run_dir, 'jobs', a.job_id), a.attempt));
    let kind = 'api';
    try { kind = String((JSON.parse(a.trigger) as { kind?: unknown }).kind ?? 'api'); } catch { /* keep api */ }
    // (the runner's own time counts: a last command run in its own shell is in it)
    return {
      job_id: a.job_id, attempt: a.attempt, run_id: a.run_id, group_id: a.group_id, pipeline: a.pipeline, trigger_kind: kind,
      cpu_seconds: cpu ? cpu.user + cpu.sys + cpu.children_user + cpu.children_sys : null, wall_seconds: wall, gpu_seconds: wall * gpusOf(a), at,
    };
  }));
  return due.length;
}
