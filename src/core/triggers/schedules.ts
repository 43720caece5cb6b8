// Cron schedules: fires the due occurrences of every pipeline whose latest spec has `schedule:`.
// Each run is made with submit() and the pipeline's "handled through" mark is written in the same
// transaction, so a crash never fires an occurrence twice nor loses one. Occurrences that fell
// while the server was down follow `catch_up` (none | last | all, the latest CATCH_UP_CAP at most);
// `overlap` decides what a fire does while the previous scheduled run is still queued or running:
// skip (no run; counted), queue (a run whose trigger names `after: <previous run>`, which the engine
// holds until that run ended), allow (a run at once). Timing is the service loop's job (service.ts).
import type { Cron } from 'croner';
import { DroverError, isStorageError } from '../errors.ts';
import { isoNow } from '../ids.ts';
import { submit } from '../scheduler/control.ts';
import { cronOf, dueOccurrences, nextDue, nextFires, CATCH_UP_CAP, type Schedule } from './cron.ts';
import type { TriggerCtx, LatestSpec } from './context.ts';
import type { ScheduleRow } from './store.ts';

const RETRY_MS = 1_000;

interface Entry { pipeline: string; schedule: Schedule; cron: Cron; handled: number; next: number | null }

export class Schedules {
  private entries = new Map<string, Entry>();
  constructor(private ctx: TriggerCtx, readonly startedMs: number) {}

  /** Bring the entries in line with the pipelines whose latest version changed. */
  sync(changed: LatestSpec[]): void {
    const { store, log } = this.ctx;
    for (const p of changed) {
      const s = p.spec?.schedule;
      if (!s) {
        if (this.entries.delete(p.name) || store.triggers.scheduleGet(p.name)) this.ctx.engine.transact(() => store.triggers.scheduleDelete(p.name));
        continue;
      }
      let cron: Cron;
      try { cron = cronOf(s); } catch (err) {
        log.warn('ignoring an invalid schedule', { pipeline: p.name, cron: s.cron, err: String(err) });
        this.entries.delete(p.name);
        continue;
      }
      const cur = this.entries.get(p.name);
      if (cur && cur.schedule.cron === s.cron && cur.schedule.timezone === s.timezone) { cur.schedule = s; continue; }
      let row = store.triggers.scheduleGet(p.name);
      if (!row || row.cron !== s.cron || row.timezone !== s.timezone) {
        // a new (or changed) schedule counts from when its version was registered; occurrences before
        // this server started belong to no downtime of this schedule's (an upgrade), so not before that
        const baseline = Math.max(Date.parse(p.created_at) || 0, this.startedMs);
        row = { pipeline: p.name, cron: s.cron, timezone: s.timezone, handled_ms: baseline, last_fire: null, skipped: 0, last_skip: null, last_error: null, updated_at: isoNow() };
        this.ctx.engine.transact(() => store.triggers.schedulePut(row!));
      }
      this.entries.set(p.name, { pipeline: p.name, schedule: s, cron, handled: row.handled_ms, next: nextDue(cron, row.handled_ms) });
    }
  }

  /** Fire every due occurrence; returns when the next one falls (ms), or null when none ever will. */
  fireDue(now: number): number | null {
    let soonest: number | null = null;
    for (const e of this.entries.values()) {
      if (e.next !== null && e.next <= now) this.fireEntry(e, now);
      if (e.next !== null && (soonest === null || e.next < soonest)) soonest = e.next;
    }
    return soonest;
  }

  private fireEntry(e: Entry, now: number): void {
    const due = dueOccurrences(e.cron, e.handled, now, this.startedMs, e.schedule.catch_up);
    if (due.dropped) {
      this.ctx.log.info('schedule: occurrences missed while the server was down were not run', {
        pipeline: e.pipeline, dropped: due.dropped, more: due.droppedMore, catch_up: e.schedule.catch_up, cap: CATCH_UP_CAP,
      });
    }
    try {
      for (const f of due.fires) this.fireOne(e, f.ms, f.missed);
      if (due.through !== null && due.through > e.handled) this.mark(e, due.through, {});
      e.next = nextDue(e.cron, e.handled);
    } catch (err) {
      // storage trouble: nothing of this occurrence was written; try again in a second
      this.ctx.log.error('schedule: could not fire; will retry', { pipeline: e.pipeline, err: String(err) });
      e.next = now + RETRY_MS;
    }
  }

  private fireOne(e: Entry, ms: number, missed: boolean): void {
    const { store, engine, log } = this.ctx;
    const fire_time = isoNow(ms);
    const prev = store.triggers.activeScheduledRun(e.pipeline);
    if (prev && e.schedule.overlap === 'skip') {
      const row = this.row(e);
      this.mark(e, ms, { skipped: row.skipped + 1, last_skip: fire_time });
      log.info('schedule: skipped (previous run still going)', { pipeline: e.pipeline, fire_time, previous: prev.id });
      return;
    }
    const trigger = {
      kind: 'schedule' as const, fire_time, ...(missed ? { catch_up: true } : {}),
      ...(prev && e.schedule.overlap === 'queue' ? { after: prev.id } : {}),
    };
    try {
      this.ctx.engine.transact(() => {
        submit(engine, { pipeline: e.pipeline, trigger });
        this.put(e, ms, { last_fire: fire_time, last_error: null });
      });
      e.handled = Math.max(ms, e.handled);
    } catch (err) {
      if (isStorageError(err) || (err instanceof DroverError && err.code === 'storage_unavailable')) throw err;
      // the spec cannot make a run (workspace gone, bad reference…): note it and go on with the next occurrence
      const message = err instanceof Error ? err.message : String(err);
      this.mark(e, ms, { last_error: `${fire_time}: ${message}` });
      log.warn('schedule: could not make a run', { pipeline: e.pipeline, fire_time, err: message });
    }
  }

  private row(e: Entry): ScheduleRow {
    return this.ctx.store.triggers.scheduleGet(e.pipeline) ?? {
      pipeline: e.pipeline, cron: e.schedule.cron, timezone: e.schedule.timezone, handled_ms: e.handled,
      last_fire: null, skipped: 0, last_skip: null, last_error: null, updated_at: isoNow(),
    };
  }

  /** Write the schedule's row: handled through `handled`, plus the patch (inside the caller's transaction, if any). */
  private put(e: Entry, handled: number, patch: Partial<ScheduleRow>): void {
    this.ctx.store.triggers.schedulePut({ ...this.row(e), ...patch, handled_ms: Math.max(handled, e.handled), updated_at: isoNow() });
  }

  private mark(e: Entry, handled: number, patch: Partial<ScheduleRow>): void {
    this.ctx.engine.transact(() => this.put(e, handled, patch));
    e.handled = Math.max(handled, e.handled);
  }
}

/** What GET /pipelines/:name shows of a schedule: the next three fire times and the last one. */
export function scheduleView(ctx: Pick<TriggerCtx, 'store'>, pipeline: string, s: Schedule, now: number) {
  const row = ctx.store.triggers.scheduleGet(pipeline);
  let next: string[] = [];
  try { next = nextFires(s, now, 3); } catch { /* an invalid legacy expression: nothing is next */ }
  return {
    cron: s.cron, timezone: s.timezone, overlap: s.overlap, catch_up: s.catch_up, catch_up_cap: CATCH_UP_CAP,
    next, last_fire: row?.last_fire ?? null, skipped: row?.skipped ?? 0, last_skip: row?.last_skip ?? null, last_error: row?.last_error ?? null,
  };
}
