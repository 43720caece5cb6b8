// Event (topic message) life-cycle, per subscribing pipeline (one "delivery" each):
// pending (stored; waits for a run, or for its trigger's budget / a retry's backoff) →
// reserved (a run was made for it and claims it) → consumed (that run succeeded) | failed (the run
// failed and the pipeline's retries.max extra runs are used up, or no run could be made at all).
// reserved → pending again when the run failed and retries remain, or when the run holding it no
// longer exists (recovery after a crash). consumed and failed are final: an event is never
// consumed twice, because every change is a conditional write from the status it was read in.
import { makeMachine } from './machine.ts';

export const EVENT_STATUSES = ['pending', 'reserved', 'consumed', 'failed'] as const;
export type EventStatus = (typeof EVENT_STATUSES)[number];

export const EVENT_TRANSITIONS = {
  pending: ['reserved', 'failed'],
  reserved: ['consumed', 'pending', 'failed'],
  consumed: [],
  failed: [],
} as const satisfies Record<EventStatus, readonly EventStatus[]>;

export const eventMachine = makeMachine<EventStatus>('event', EVENT_STATUSES, EVENT_TRANSITIONS, ['consumed', 'failed']);
