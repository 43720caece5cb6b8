// What the API, CLI and page show of allocation queues: each queue with its allocations (newest
// first), counts per state and jobs run; `log` adds each allocation's script and the tail of its output.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { ALLOC_STATUSES } from '../states/alloc.ts';
import type { AllocQueueRow, AllocStore, AllocationRow } from './types.ts';
import { queueShape } from './shape.ts';

const OUTPUT_TAIL = 64 * 1024;

export function allocationView(a: AllocationRow, now = Date.now()) {
  const since = a.started_at ?? a.created_at;
  return {
    id: a.id, status: a.status, slurm_id: a.slurm_id, slurm_state: a.slurm_state, node: a.node, reason: a.reason, message: a.message,
    jobs_run: a.jobs_run, connected_at: a.connected_at, created_at: a.created_at, started_at: a.started_at, ended_at: a.ended_at,
    age_s: Math.max(0, Math.round(((a.ended_at ? Date.parse(a.ended_at) : now) - Date.parse(since)) / 1000)),
  };
}

export function queueView(store: AllocStore, q: AllocQueueRow, limit = 20) {
  const counts = Object.fromEntries(ALLOC_STATUSES.map((s) => [s, 0])) as Record<AllocationRow['status'], number>;
  let jobs = 0;
  const shape = queueShape(q);
  for (const c of store.countsByStatus()) if (c.queue_id === q.id) { counts[c.status] = c.n; jobs += c.jobs; }
  return {
    id: q.id, name: q.name, manager: q.manager, pool: q.pool, time_ms: q.time_ms, nodes: q.nodes, backlog: q.backlog, max_allocs: q.max_allocs,
    idle_ms: q.idle_ms, sbatch_args: JSON.parse(q.sbatch_args) as string[], status: q.status, reason: q.reason, failures: q.failures,
    backoff_until: q.backoff_until ? new Date(q.backoff_until).toISOString() : null, last_error: q.last_error, sbatch_calls: q.sbatch_calls,
    created_at: q.created_at, counts, jobs_run: jobs,
    // what each allocation gets per node (CPUs = its agent's slots), and one node of the partition (null: unknown)
    shape: { cpus: shape.cpus, gpus: shape.gpus }, node: q.node_cpus !== null ? { cpus: q.node_cpus, gpus: q.node_gpus } : null,
    allocations: store.allocationsOf(q.id, limit).map((a) => allocationView(a)),
  };
}

/** `alloc log`: every allocation of the queue with its script and the last 64 KiB of its Slurm output (the agent's log). */
export function queueLog(store: AllocStore, q: AllocQueueRow, limit = 100) {
  return {
    queue: { id: q.id, name: q.name, status: q.status, reason: q.reason },
    allocations: store.allocationsOf(q.id, limit).map((a) => ({ ...allocationView(a), script: a.script, output: tail(join(a.dir, 'slurm.out')) })),
  };
}

function tail(path: string): string | null {
  let fd: number;
  try { fd = openSync(path, 'r'); } catch { return null; }
  try {
    const size = fstatSync(fd).size;
    const len = Math.min(size, OUTPUT_TAIL);
    const buf = Buffer.alloc(len);
    readSync(fd, buf, 0, len, size - len);
    return (size > len ? `[… ${size - len} earlier bytes]\n` : '') + buf.toString('utf8');
  } finally { closeSync(fd); }
}
