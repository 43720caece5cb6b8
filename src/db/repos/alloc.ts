// Allocation queues and allocations (core/alloc/types.ts AllocStore): prepared statements, and status
// changes only through guarded UPDATEs checked against the tables in core/states/alloc.ts.
import type { Database } from 'bun:sqlite';
import { allocMachine, allocQueueMachine } from '../../core/states/alloc.ts';
import type { AllocStore, AllocQueueRow, AllocationRow, QueuePatch, AllocPatch } from '../../core/alloc/types.ts';
import { IllegalTransition } from './transitions.ts';

const QUEUE_FIELDS = ['reason', 'failures', 'backoff_until', 'last_error', 'sbatch_calls', 'updated_at'] as const;
const ALLOC_FIELDS = ['slurm_id', 'slurm_state', 'node', 'reason', 'message', 'token_id', 'started_at', 'ended_at', 'connected_at'] as const;

export function allocRepo(db: Database, onIllegal: (e: IllegalTransition) => void = () => {}): AllocStore {
  const cache = new Map<string, ReturnType<Database['prepare']>>();
  const p = (sql: string) => { let s = cache.get(sql); if (!s) { s = db.prepare(sql); cache.set(sql, s); } return s; };

  /** `UPDATE table SET k = $k, … WHERE id = $id [AND status = $from]` over the allowed keys of `patch`. */
  function update(table: string, allowed: readonly string[], id: string, patch: Record<string, unknown>, status?: { from: string; to: string }): boolean {
    const keys = Object.keys(patch).filter((k) => allowed.includes(k) && patch[k] !== undefined).sort();
    const sets = [...(status ? ['status = $to'] : []), ...keys.map((k) => `${k} = $${k}`)];
    if (!sets.length) return true;
    const params: Record<string, unknown> = { id };
    for (const k of keys) params[k] = patch[k] ?? null;
    if (status) { params.from = status.from; params.to = status.to; }
    return p(`UPDATE ${table} SET ${sets.join(', ')} WHERE id = $id${status ? ' AND status = $from' : ''}`).run(params as never).changes === 1;
  }

  return {
    insertQueue(q: AllocQueueRow) {
      p(`INSERT INTO alloc_queues (id, name, manager, pool, time_ms, nodes, backlog, max_allocs, idle_ms, sbatch_args, status, reason, failures, backoff_until, last_error, sbatch_calls, created_at, updated_at, node_cpus, node_gpus, cpus, gpus)
         VALUES ($id, $name, $manager, $pool, $time_ms, $nodes, $backlog, $max_allocs, $idle_ms, $sbatch_args, $status, $reason, $failures, $backoff_until, $last_error, $sbatch_calls, $created_at, $updated_at, $node_cpus, $node_gpus, $cpus, $gpus)`).run(q as never);
    },
    queues() { return p(`SELECT * FROM alloc_queues WHERE status != 'removed' ORDER BY created_at, id`).all() as AllocQueueRow[]; },
    queue(ref: string) {
      return (p(`SELECT * FROM alloc_queues WHERE id = ?`).get(ref) as AllocQueueRow | null)
        ?? (p(`SELECT * FROM alloc_queues WHERE name = ? AND status != 'removed'`).get(ref) as AllocQueueRow | null);
    },
    patchQueue(id: string, patch: QueuePatch) { update('alloc_queues', QUEUE_FIELDS, id, patch); },
    transitionQueue(id, from, to, patch = {}) {
      if (!allocQueueMachine.canTransition(from, to)) { const e = new IllegalTransition('alloc_queue', id, from, to); onIllegal(e); throw e; }
      return update('alloc_queues', QUEUE_FIELDS, id, patch, { from, to });
    },
    insertAllocation(a: AllocationRow) {
      const { seq: _seq, ...row } = a;
      p(`INSERT INTO allocations (id, queue_id, status, slurm_id, slurm_state, node, reason, message, token_id, dir, script, jobs_run, connected_at, created_at, started_at, ended_at)
         VALUES ($id, $queue_id, $status, $slurm_id, $slurm_state, $node, $reason, $message, $token_id, $dir, $script, $jobs_run, $connected_at, $created_at, $started_at, $ended_at)`).run(row as never);
    },
    allocation(id: string) { return p(`SELECT * FROM allocations WHERE id = ?`).get(id) as AllocationRow | null; },
    allocationsOf(queueId: string, limit: number) { return p(`SELECT * FROM allocations WHERE queue_id = ? ORDER BY seq DESC LIMIT ?`).all(queueId, limit) as AllocationRow[]; },
    alive() { return p(`SELECT * FROM allocations WHERE status IN ('submitting', 'pending', 'running') ORDER BY seq`).all() as AllocationRow[]; },
    patchAllocation(id: string, patch: AllocPatch) { update('allocations', ALLOC_FIELDS, id, patch); },
    transitionAllocation(id, from, to, patch = {}) {
      if (!allocMachine.canTransition(from, to)) { const e = new IllegalTransition('allocation', id, from, to); onIllegal(e); throw e; }
      return update('allocations', ALLOC_FIELDS, id, patch, { from, to });
    },
    addJobsRun(id: string, n: number) { p(`UPDATE allocations SET jobs_run = jobs_run + ? WHERE id = ?`).run(n, id); },
    countsByStatus() {
      return p(`SELECT queue_id, status, count(*) AS n, coalesce(sum(jobs_run), 0) AS jobs FROM allocations GROUP BY queue_id, status`).all() as { queue_id: string; status: AllocationRow['status']; n: number; jobs: number }[];
    },
  };
}
