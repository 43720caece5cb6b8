// Cron schedules as pure arithmetic over croner: validate an expression, list the next fire times,
// and work out which occurrences are due since the last one handled — split into the ones missed
// while the server was down (subject to `catch_up`) and the live ones. No timers here: croner is
// only asked about dates (a Cron built without a callback schedules nothing).
import { Cron } from 'croner';
import { DroverError } from '../errors.ts';
import type { PipelineSpec } from '../spec/index.ts';

export type Schedule = NonNullable<PipelineSpec['schedule']>;

/** `catch_up: all` makes at most this many runs for the occurrences missed during one downtime (the latest ones). */
export const CATCH_UP_CAP = 100;
/** At most this many live occurrences are fired in one pass (a stalled event loop cannot cause a burst beyond it). */
export const LIVE_CAP = 100;

export function cronOf(s: { cron: string; timezone?: string }): Cron {
  return new Cron(s.cron, { timezone: s.timezone ?? 'UTC', mode: '5-or-6-parts' });
}

/** Throws a 400 naming the expression when croner refuses it, or when it can never fire. */
export function checkCron(s: { cron: string; timezone?: string }): Cron {
  let c: Cron;
  try {
    c = cronOf(s);
  } catch (err) {
    const why = String((err as Error).message ?? err).replace(/^CronPattern:\s*/, '');
    throw new DroverError('invalid_spec', `schedule.cron: invalid cron expression '${s.cron}': ${why}`, { path: 'schedule.cron', cron: s.cron });
  }
  if (!c.nextRun()) throw new DroverError('invalid_spec', `schedule.cron: the cron expression '${s.cron}' never fires`, { path: 'schedule.cron', cron: s.cron });
  return c;
}

/** The croner check for a validated spec (the spec validator only counts the fields). */
export function checkSchedule(spec: Pick<PipelineSpec, 'schedule'>): void {
  if (spec.schedule) checkCron(spec.schedule);
}

export function nextFires(s: { cron: string; timezone?: string }, fromMs: number, n = 3): string[] {
  return cronOf(s).nextRuns(n, new Date(fromMs)).map((d) => d.toISOString());
}

export interface Due {
  /** occurrences to fire now, oldest first; `missed` ones fell while the server was down */
  fires: { ms: number; missed: boolean }[];
  /** missed occurrences the policy dropped (none: all of them; last: all but one; all: beyond the cap) */
  dropped: number;
  /** true when more occurrences were missed than were looked at (CATCH_UP_CAP + 1): `dropped` is a lower bound */
  droppedMore: boolean;
  /** the latest occurrence considered; persist it as the new "handled through" mark */
  through: number | null;
}

/**
 * Occurrences after `handledMs` up to `nowMs`. Those before `startedMs` (when this server's trigger
 * service started) were missed while it was down and follow `catchUp`; later ones are live and all fire.
 */
export function dueOccurrences(cron: Cron, handledMs: number, nowMs: number, startedMs: number, catchUp: Schedule['catch_up']): Due {
  const fires: Due['fires'] = [];
  let dropped = 0;
  let droppedMore = false;
  let through: number | null = null;
  if (handledMs < startedMs) {
    // previousRuns(n, ref) lists occurrences strictly before ref, latest first
    const before = Math.min(startedMs, nowMs + 1);
    const missed = cron.previousRuns(CATCH_UP_CAP + 1, new Date(before)).map((d) => d.getTime()).filter((t) => t > handledMs);
    if (missed.length) {
      through = missed[0]!;
      const keep = catchUp === 'all' ? CATCH_UP_CAP : catchUp === 'last' ? 1 : 0;
      const kept = missed.slice(0, keep).reverse();
      dropped = missed.length - kept.length;
      droppedMore = missed.length > CATCH_UP_CAP;
      for (const ms of kept) fires.push({ ms, missed: true });
    }
  }
  let cursor = Math.max(handledMs, startedMs - 1, through ?? -Infinity);
  for (let i = 0; i < LIVE_CAP; i++) {
    const next = cron.nextRun(new Date(cursor));
    if (!next || next.getTime() > nowMs) break;
    cursor = next.getTime();
    fires.push({ ms: cursor, missed: false });
    through = cursor;
  }
  return { fires, dropped, droppedMore, through };
}

/** When the next occurrence after `afterMs` falls (null: never again). */
export function nextDue(cron: Cron, afterMs: number): number | null {
  return cron.nextRun(new Date(afterMs))?.getTime() ?? null;
}
