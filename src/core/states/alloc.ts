// Allocation queues and their allocations (API.md §7).
//
// An allocation: `submitting` (row written, sbatch under way: a crash here is resolved by the Slurm job
// name, never by a second sbatch) → `pending` (in Slurm's queue, Slurm id known) → `running` (Slurm
// started it: the agent inside claims jobs) → `ended` (it left Slurm's queue: the agent exited after its
// idle time, or walltime, scancel, node failure), `failed` (sbatch refused it, or its agent never
// connected), `canceled` (drover canceled it: queue removed, or never connected). Terminal states accept
// nothing; the allocation's token is revoked on entering one.
//
// A queue: `active` ⇄ `paused` (by hand, or after repeated submission failures); `draining` after
// `alloc rm` (pending allocations canceled, running ones finish) → `removed` once none is alive.
import { makeMachine } from './machine.ts';

export const ALLOC_STATUSES = ['submitting', 'pending', 'running', 'ended', 'failed', 'canceled'] as const;
export type AllocStatus = (typeof ALLOC_STATUSES)[number];

export const ALLOC_TRANSITIONS = {
  submitting: ['pending', 'running', 'ended', 'failed'],
  pending: ['running', 'ended', 'failed', 'canceled'],
  running: ['ended', 'failed', 'canceled'],
  ended: [],
  failed: [],
  canceled: [],
} as const satisfies Record<AllocStatus, readonly AllocStatus[]>;

export const allocMachine = makeMachine<AllocStatus>('allocation', ALLOC_STATUSES, ALLOC_TRANSITIONS, ['ended', 'failed', 'canceled']);

/** Alive: holds (or may hold) a Slurm job. */
export const ALLOC_ALIVE: readonly AllocStatus[] = ['submitting', 'pending', 'running'];

export const ALLOC_QUEUE_STATUSES = ['active', 'paused', 'draining', 'removed'] as const;
export type AllocQueueStatus = (typeof ALLOC_QUEUE_STATUSES)[number];

export const ALLOC_QUEUE_TRANSITIONS = {
  active: ['paused', 'draining'],
  paused: ['active', 'draining'],
  draining: ['removed'],
  removed: [],
} as const satisfies Record<AllocQueueStatus, readonly AllocQueueStatus[]>;

export const allocQueueMachine = makeMachine<AllocQueueStatus>('alloc_queue', ALLOC_QUEUE_STATUSES, ALLOC_QUEUE_TRANSITIONS, ['removed']);
