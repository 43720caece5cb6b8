// Group (sweep) life-cycle: running ⇄ paused; terminal (succeeded | failed | canceled) when
// every run in it is terminal. Paused means nothing new starts; running jobs finish.
// A retried run re-opens its group: failed|canceled → running.
import { makeMachine } from './machine.ts';

export const GROUP_STATUSES = ['running', 'paused', 'succeeded', 'failed', 'canceled'] as const;
export type GroupStatus = (typeof GROUP_STATUSES)[number];

export const GROUP_TRANSITIONS = {
  running: ['paused', 'succeeded', 'failed', 'canceled'],
  paused: ['running', 'canceled', 'succeeded', 'failed'],
  succeeded: [],
  failed: ['running'],
  canceled: ['running'],
} as const satisfies Record<GroupStatus, readonly GroupStatus[]>;

export const groupMachine = makeMachine<GroupStatus>('group', GROUP_STATUSES, GROUP_TRANSITIONS, ['succeeded', 'failed', 'canceled']);
