// Run life-cycle: queued → running (its first job started) → succeeded | failed | canceled.
// A run canceled or failed before anything started goes straight from queued to terminal.
// retry re-opens a terminal failed/canceled run: failed|canceled → running.
import { makeMachine } from './machine.ts';

export const RUN_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'canceled'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export const RUN_TRANSITIONS = {
  queued: ['running', 'canceled', 'failed', 'succeeded'],
  running: ['succeeded', 'failed', 'canceled'],
  succeeded: [],
  failed: ['running'],
  canceled: ['running'],
} as const satisfies Record<RunStatus, readonly RunStatus[]>;

export const runMachine = makeMachine<RunStatus>('run', RUN_STATUSES, RUN_TRANSITIONS, ['succeeded', 'failed', 'canceled']);
