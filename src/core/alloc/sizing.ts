// Demand-driven sizing (HyperQueue's autoalloc as the anchor): how many allocations a queue submits
// now, and the one rule that says whether a queued job could ever run in an allocation of a queue —
// used both by the sizing (a job that can never fit brings no allocation) and by `why` (its blocker).
import type { Blocker } from '../ports.ts';
import type { JobSpec } from '../spec/index.ts';
import type { AllocQueueRow, AllocationRow } from './types.ts';
import { usableMs } from './script.ts';
import { humanDuration } from './duration.ts';

/** Whether a job of this queue's pool fits an allocation of this shape; a blocker naming the limit when not. */
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
  return null;
}

/**
 * The blocker of a queued agent job of pool `pool` that no queue of that pool can take (every queue's
 * shape refuses it), or of one whose queues are all paused. Null when some queue can run it, or when
 * no queue serves the pool (plain `agent_only` then says it all).
 */
export function allocBlocker(queues: AllocQueueRow[], spec: Pick<JobSpec, 'pool' | 'resources' | 'executor'>): Blocker | null {
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
  return null;
}

/** CPUs one allocation brings, as far as its sbatch arguments say (1 per node when they do not). */
export function slotsPerAllocation(q: Pick<AllocQueueRow, 'nodes' | 'sbatch_args'>): number {
  const args = JSON.parse(q.sbatch_args) as string[];
  const opt = (long: string, short?: string): number | null => {
    for (let i = 0; i < args.length; i++) {
      const a = args[i]!;
      const m = new RegExp(`^--${long}=(\\d+)$`).exec(a);
      if (m) return Number(m[1]);
      if ((a === `--${long}` || (short && a === `-${short}`)) && /^\d+$/.test(args[i + 1] ?? '')) return Number(args[i + 1]);
      if (short) { const s = new RegExp(`^-${short}(\\d+)$`).exec(a); if (s) return Number(s[1]); }
    }
    return null;
  };
  const perTask = opt('cpus-per-task', 'c') ?? 1;
  const tasks = opt('ntasks-per-node') ?? (opt('ntasks', 'n') !== null ? Math.ceil(opt('ntasks', 'n')! / Math.max(1, q.nodes)) : 1);
  const perNode = Math.max(opt('mincpus') ?? 0, perTask * tasks);
  return Math.max(1, perNode) * Math.max(1, q.nodes);
}

/**
 * How many allocations to submit now: the queued jobs that fit, less what allocations on their way will
 * bring (pending ones, and running ones whose agent has not claimed yet: agents that are claiming
 * would already have taken what they can), in allocations — at most `backlog` pending and
 * `max_allocs` alive.
 */
export function toSubmit(q: AllocQueueRow, alive: AllocationRow[], fitting: number): number {
  if (q.status !== 'active' || fitting <= 0) return 0;
  const pending = alive.filter((a) => a.status === 'submitting' || a.status === 'pending').length;
  const coming = pending + alive.filter((a) => a.status === 'running' && !a.connected_at).length;
  const slots = slotsPerAllocation(q);
  const deficit = fitting - coming * slots;
  if (deficit <= 0) return 0;
  return Math.max(0, Math.min(Math.ceil(deficit / slots), q.backlog - pending, q.max_allocs - alive.length));
}
