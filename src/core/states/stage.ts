// Stage life-cycle: pending → running (a job started) → succeeded | failed | canceled;
// pending → skipped when a stage it needs did not succeed. A stage whose jobs were all
// skipped/canceled before starting may go straight from pending to a terminal state. A retry of the
// run re-opens failed, canceled and skipped stages (→ pending); succeeded is final.
import { makeMachine } from './machine.ts';

export const STAGE_STATUSES = ['pending', 'running', 'succeeded', 'failed', 'canceled', 'skipped'] as const;
export type StageStatus = (typeof STAGE_STATUSES)[number];

export const STAGE_TRANSITIONS = {
  pending: ['running', 'skipped', 'canceled', 'failed', 'succeeded'],
  running: ['succeeded', 'failed', 'canceled'],
  succeeded: [],
  failed: ['pending'],
  canceled: ['pending'],
  skipped: ['pending'],
} as const satisfies Record<StageStatus, readonly StageStatus[]>;

export const stageMachine = makeMachine<StageStatus>('stage', STAGE_STATUSES, STAGE_TRANSITIONS, ['succeeded', 'failed', 'canceled', 'skipped']);
