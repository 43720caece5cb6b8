// Allocation queues for people: one block per queue (shape, state, why it is paused) with a table of
// its allocations; `alloc log` adds each allocation's script and output. `--json` prints the API's JSON.
import { status, table } from '../format.ts';

export interface AllocationView {
  id: string; status: string; slurm_id: string | null; slurm_state: string | null; node: string | null;
  reason: string | null; message: string | null; jobs_run: number; age_s: number; script?: string; output?: string | null;
}
export interface AllocQueueView {
  id: string; name: string; pool: string; time_ms: number; nodes: number; backlog: number; max_allocs: number; idle_ms: number;
  sbatch_args: string[]; status: string; reason: string | null; failures: number; backoff_until: string | null; last_error: string | null;
  sbatch_calls: number; counts: Record<string, number>; jobs_run: number; allocations: AllocationView[];
  /** absent from servers before allocation shapes */
  shape?: { cpus: number; gpus: number }; node?: { cpus: number; gpus: number | null } | null;
}

const secs = (ms: number) => ms % 3_600_000 === 0 ? `${ms / 3_600_000}h` : ms % 60_000 === 0 ? `${ms / 60_000}m` : `${Math.round(ms / 1000)}s`;
const ageOf = (s: number) => s < 120 ? `${s}s` : s < 7200 ? `${Math.round(s / 60)}m` : `${Math.round(s / 3600)}h`;

export function allocQueueText(q: AllocQueueView): string {
  let s = `${q.name} (${q.id})  ${status(q.status)}  pool ${q.pool}  time ${secs(q.time_ms)}  nodes ${q.nodes}  backlog ${q.backlog}  max-allocs ${q.max_allocs}  idle ${secs(q.idle_ms)}${q.sbatch_args.length ? `  -- ${q.sbatch_args.join(' ')}` : ''}\n`;
  if (q.shape) s += `  each allocation: ${q.shape.cpus} CPU(s), ${q.shape.gpus} GPU(s) per node${q.node ? ` (a node: ${q.node.cpus} CPUs, ${q.node.gpus ?? '?'} GPUs)` : ' (node shape unknown)'}\n`;
  if (q.reason) s += `  reason: ${q.reason}\n`;
  if (q.failures) s += `  failed submissions in a row: ${q.failures}${q.backoff_until ? `, next try after ${q.backoff_until}` : ''}${q.last_error ? `; last: ${q.last_error}` : ''}\n`;
  const c = q.counts;
  s += `  allocations: ${c.submitting ?? 0} submitting, ${c.pending ?? 0} pending, ${c.running ?? 0} running, ${c.ended ?? 0} ended, ${c.failed ?? 0} failed, ${c.canceled ?? 0} canceled; sbatch calls ${q.sbatch_calls}; jobs run ${q.jobs_run}\n`;
  if (q.allocations.length) {
    s += table(['ALLOCATION', 'STATUS', 'SLURM ID', 'SLURM STATE', 'NODE', 'AGE', 'JOBS', 'REASON'],
      q.allocations.map((a) => [a.id, status(a.status), a.slurm_id ?? '-', a.slurm_state ?? '-', a.node ?? '-', ageOf(a.age_s), String(a.jobs_run), a.reason === 'slurm:COMPLETED' ? '' : (a.message ?? a.reason ?? '')])).replace(/^(?=.)/gm, '  ');
  }
  return s;
}

export function allocLogText(log: { queue: { name: string; status: string; reason: string | null }; allocations: AllocationView[] }): string {
  let s = `queue ${log.queue.name}: ${log.queue.status}${log.queue.reason ? ` (${log.queue.reason})` : ''}\n`;
  if (!log.allocations.length) s += '(no allocations yet)\n';
  for (const a of log.allocations) {
    s += `\n== allocation ${a.id}  ${a.status}  slurm ${a.slurm_id ?? '-'} ${a.slurm_state ?? ''}  node ${a.node ?? '-'}  jobs ${a.jobs_run}${a.message ? `\n   ${a.message}` : ''}\n`;
    s += `-- script:\n${a.script ?? ''}`;
    s += `-- output:\n${a.output ?? '(none yet)\n'}`;
  }
  return s;
}
