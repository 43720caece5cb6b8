// Job life-cycle: pending (its stage's needs are unmet) → queued (ready; waits for a slot) →
// running (started by an executor / leased) → succeeded | failed | canceled. A job whose
// upstream stage failed is skipped. running → queued again is a retry (attempt + 1) after a
// failure the retry policy allows, or a lost lease. Terminal states accept nothing, with one
// exception: POST /runs/:id/retry re-opens the failed, canceled and skipped jobs of a finished run
// (failed|canceled|skipped → queued|pending, attempt + 1 for those that ran); succeeded is final.
import { makeMachine } from './machine.ts';

export const JOB_STATUSES = ['pending', 'queued', 'running', 'succeeded', 'failed', 'canceled', 'skipped'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

export const JOB_TRANSITIONS = {
  pending: ['queued', 'canceled', 'skipped', 'failed'],
  queued: ['running', 'canceled', 'failed', 'skipped'],
  running: ['succeeded', 'failed', 'canceled', 'queued'],
  succeeded: [],
  failed: ['queued', 'pending'],
  canceled: ['queued', 'pending'],
  skipped: ['queued', 'pending'],
} as const satisfies Record<JobStatus, readonly JobStatus[]>;

export const jobMachine = makeMachine<JobStatus>('job', JOB_STATUSES, JOB_TRANSITIONS, ['succeeded', 'failed', 'canceled', 'skipped']);
