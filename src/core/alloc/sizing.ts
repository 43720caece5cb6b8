// Demand-driven sizing (HyperQueue's autoalloc as the anchor): how many allocations a queue submits
// now, and the one rule that says whether a queued job could ever run in an allocation of a queue —
// used both by the sizing (a job that can never fit brings no allocation) and by `why` (its blocker,
// or the allocation it waits for).
import type { Blocker } from '../ports.ts';
import type { JobSpec } from '../spec/index.ts';
import type { AllocQueueRow, AllocationRow } from './types.ts';
import { usableMs } from './script.ts';
import { humanDuration } from './duration.ts';
import { queueShape, slotsPerAllocation } from './shape.ts';

export { slotsPerAllocation };

const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`;

/** What a job takes of an allocation's node: the same defaults the agent broker uses. */
export const jobCpus = (spec: Pick<JobSpec, 'resources'>) => spec.resources.cpus ?? 1;
const jobGpus = (spec: Pick<JobSpec, 'resources'>) => spec.resources.gpus ?? 0;

/**
 * Whether a job of this queue's pool fits an allocation of this shape — its resources.time in the
 * usable walltime, its cpus and gpus in what one allocation gets on a node — and a blocker naming the
 * queue and the limit when not.
 */
export function misfit(q: AllocQueueRow, spec: Pick<JobSpec, 'resources'>): Blocker | null {
  const t = spec.resources.time_ms;
  const usable = usableMs(q);
  if (t !== undefined && t > usable) {
    return {
      code: 'alloc_time_too_short',
      message: `allocation queue '${q.name}' gives each allocation ${humanDuration(q.time_ms)} (${humanDuration(usable)} usable by jobs), less than this job's resources.time ${humanDuration(t)}; no allocation is submitted for it`,
      queue: q.name, limit_ms: usable, time_ms: t,
    };
  }
  const shape = queueShape(q);
  for (const [kind, want, have, node, asked, how] of [
    ['cpus', jobCpus(spec), shape.cpus, q.node_cpus, shape.cpusAsked, '--cpus-per-task=N (or --exclusive)'],
    ['gpus', jobGpus(spec), shape.gpus, q.node_gpus, shape.gpusAsked, '--gres=gpu:N'],
  ] as const) {
    if (want <= have) continue;
    const unit = kind === 'cpus' ? 'CPU' : 'GPU';
    // the node itself is too small: no sbatch argument can help
    const byNode = node !== null && want > node;
    const limit = byNode ? node : have;
    const message = byNode
      ? `allocation queue '${q.name}': a node of its partition has ${plural(node, unit)}, less than this job's resources.${kind} ${want}; no allocation can run it and none is submitted for it`
      : `allocation queue '${q.name}' gets ${plural(have, unit)} per node for each allocation (${asked ? 'as its sbatch arguments ask' : `Slurm's default; ask more with ${how} in its sbatch arguments`}${node !== null ? `, a node has ${node}` : ''}), less than this job's resources.${kind} ${want}; no allocation is submitted for it`;
    return { code: `alloc_${kind}_too_many`, message, queue: q.name, limit, [kind]: want, by: byNode ? 'node' : 'sbatch_args' };
  }
  return null;
}

/** Alive and not yet taking jobs: what a job that fits waits for. */
const onItsWay = (a: AllocationRow) => a.status === 'submitting' || a.status === 'pending' || (a.status === 'running' && !a.connected_at);

const clock = (iso: string) => `${iso.slice(11, 19)} UTC`;

/** The allocation a fitting job waits for, in words: "a_… (Slurm job 123, pending since 12:01:05 UTC …)". */
function waitingFor(q: AllocQueueRow, a: AllocationRow): Blocker {
  const state = a.status === 'submitting' ? `sbatch under way since ${clock(a.created_at)}`
    : a.status === 'pending' ? `Slurm job ${a.slurm_id ?? '?'}, pending since ${clock(a.created_at)}${a.slurm_state && a.slurm_state !== 'PENDING' ? `, ${a.slurm_state}` : ''}`
    : `Slurm job ${a.slurm_id ?? '?'}, running${a.node ? ` on ${a.node}` : ''} since ${clock(a.started_at ?? a.created_at)}, its agent not connected yet`;
  return {
    code: 'alloc_pending',
    message: `waiting for allocation ${a.id} (${state}) of allocation queue '${q.name}'`,
    queue: q.name, allocation: a.id, slurm_id: a.slurm_id, state: a.status, slurm_state: a.slurm_state, since: a.status === 'running' ? a.started_at : a.created_at,
  };
}

/**
 * `why` of a queued agent job of a pool that allocation queues serve, by the same rule the sizing
 * uses: the misfit blocker when no queue of its pool can ever take it; `alloc_queue_paused` when those
 * that can are all paused; `alloc_pending` naming the allocation on its way (submitted, or started
 * with an agent not yet connected) of a queue that can; `alloc_backoff` when such a queue waits after
 * failed submissions; `alloc_to_submit` when one is about to submit. Null when no queue serves the
 * pool (plain `agent_only` then says it all) or when running allocations' agents are claiming (the job
 * waits for a free slot like any agent job).
 */
export function allocBlocker(queues: AllocQueueRow[], spec: Pick<JobSpec, 'pool' | 'resources' | 'executor'>, alive: AllocationRow[] = [], now = Date.now()): Blocker | null {
  if (spec.executor !== 'agent' || !spec.pool) return null;
  const mine = queues.filter((q) => q.pool === spec.pool && (q.status === 'active' || q.status === 'paused'));
  if (!mine.length) return null;
  const misfits = mine.map((q) => misfit(q, spec));
  if (misfits.every(Boolean)) return misfits[0]!;
  const usable = mine.filter((_, i) => !misfits[i]);
  if (usable.every((q) => q.status === 'paused')) {
    const q = usable[0]!;
    return { code: 'alloc_queue_paused', message: `allocation queue '${q.name}' is paused${q.reason ? `: ${q.reason}` : ''}`, queue: q.name };
  }
  const active = usable.filter((q) => q.status === 'active');
  const byId = new Map(active.map((q) => [q.id, q]));
  const coming = alive.find((a) => byId.has(a.queue_id) && onItsWay(a));
  if (coming) return waitingFor(byId.get(coming.queue_id)!, coming);
  if (alive.some((a) => byId.has(a.queue_id) && a.status === 'running')) return null;
  const q = active[0]!;
  if (q.backoff_until !== null && now < q.backoff_until) {
    return {
      code: 'alloc_backoff',
      message: `allocation queue '${q.name}' submits its next allocation after ${clock(new Date(q.backoff_until).toISOString())} (${plural(q.failures, 'failed submission')} in a row${q.last_error ? `; last: ${q.last_error}` : ''})`,
      queue: q.name, backoff_until: new Date(q.backoff_until).toISOString(), failures: q.failures,
    };
  }
  return { code: 'alloc_to_submit', message: `allocation queue '${q.name}' submits an allocation for it on its next pass`, queue: q.name };
}

/**
 * How many allocations to submit now: the CPUs the queued jobs that fit ask, less what allocations on
 * their way will bring (pending ones, and running ones whose agent has not claimed yet: agents that are
 * claiming would already have taken what they can), in allocations — at most `backlog` pending and
 * `max_allocs` alive.
 */
export function toSubmit(q: AllocQueueRow, alive: AllocationRow[], fittingCpus: number): number {
  if (q.status !== 'active' || fittingCpus <= 0) return 0;
  const pending = alive.filter((a) => a.status === 'submitting' || a.status === 'pending').length;
  const coming = alive.filter(onItsWay).length;
  const slots = slotsPerAllocation(q);
  const deficit = fittingCpus - coming * slots;
  if (deficit <= 0) return 0;
  return Math.max(0, Math.min(Math.ceil(deficit / slots), q.backlog - pending, q.max_allocs - alive.length));
}
