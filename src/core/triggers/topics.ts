// Topic events: POST /topics/:topic/events stores an event with one delivery per pipeline whose
// latest spec says `on: {topic}`; each delivery gets one run (payload fields → params) as its
// trigger's budget allows (`on.max_concurrent` reserved at once, `on.max_runs_per_hour`); the rest
// stay pending until the service loop finds room. Delivery life-cycle: core/states/event.ts.
//   reserve  pending → reserved: the run is made with submit() in the SAME transaction as the
//            conditional write, so a crash leaves either both or neither.
//   settle   when the run (its group, for a matrix spec) has ended: succeeded → consumed; failed →
//            pending again after a backoff while runs − 1 < retries.max of the run's spec, else failed;
//            canceled → failed (a person stopped it).
//   recover  reserved deliveries whose run is gone go back to pending; those whose run ended while
//            nobody listened (a crash between the two commits) are settled.
import * as v from 'valibot';
import { rmSync } from 'node:fs';
import { DroverError, isStorageError } from '../errors.ts';
import { newId, isoNow } from '../ids.ts';
import { submit } from '../scheduler/control.ts';
import { runSummary } from '../views.ts';
import { HOUR } from '../config.ts';
import type { TriggerCtx, LatestSpec } from './context.ts';
import type { DeliveryRow, TopicEventRow } from './store.ts';
import type { RetryPolicy } from '../spec/types.ts';
import type { EventStatus } from '../states/index.ts';

export const TOPIC = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const MAX_PER_PASS = 100;

const PublishBody = v.strictObject({
  payload: v.optional(v.pipe(
    v.unknown(),
    v.check((x) => !!x && typeof x === 'object' && !Array.isArray(x), 'payload must be a JSON object (its fields become params)'),
    v.transform((x) => x as Record<string, unknown>),
  )),
  dedupe_key: v.optional(v.pipe(v.string('dedupe_key must be a string'), v.minLength(1, 'dedupe_key must not be empty'), v.maxLength(256, 'dedupe_key is longer than 256 characters'))),
});

class LostRace extends Error {}

/** Retry delay for an event's next run: backoff × 2^(runs − 1), capped; no jitter, so it is predictable. */
export function eventRetryDelay(policy: RetryPolicy, runs: number): number {
  return Math.min(policy.max_backoff_ms, policy.backoff_ms * 2 ** Math.max(0, runs - 1));
}

/** One status for the event from its deliveries: reserved while any run holds it, consumed when all did;
 *  `unrouted` when no pipeline subscribed at publish time (nothing will ever run it). */
export function eventStatus(ds: Pick<DeliveryRow, 'status'>[]): EventStatus | 'unrouted' {
  if (ds.length === 0) return 'unrouted';
  if (ds.some((d) => d.status === 'reserved')) return 'reserved';
  if (ds.some((d) => d.status === 'pending')) return 'pending';
  return ds.every((d) => d.status === 'consumed') ? 'consumed' : 'failed';
}

export class Topics {
  constructor(private ctx: TriggerCtx, private latest: (name: string) => LatestSpec | undefined, private subscribers: (topic: string) => string[]) {}

  publish(topic: string, raw: unknown): { created: boolean; body: { event: ReturnType<Topics['view']>; runs: ReturnType<typeof runSummary>[] } } {
    const { store } = this.ctx;
    if (!TOPIC.test(topic)) throw new DroverError('invalid_request', `topic '${topic}' is not a valid name (must match ${TOPIC.source})`, { path: 'topic' });
    const parsed = v.safeParse(PublishBody, raw ?? {});
    if (!parsed.success) {
      const i = parsed.issues[0];
      const path = i.path?.map((p) => String(p.key)).join('.') || '(body)';
      throw new DroverError('invalid_request', `${path}: ${i.message}`, { path });
    }
    const { payload = {}, dedupe_key } = parsed.output;
    if (dedupe_key !== undefined) {
      const first = store.triggers.eventByDedupe(topic, dedupe_key);
      if (first) return { created: false, body: this.answer(first) };
    }
    const at = isoNow(this.ctx.clock.now());
    const id = newId('e');
    const subs = this.subscribers(topic);
    try {
      this.ctx.engine.transact(() => {
        const seq = store.triggers.eventInsert({ id, topic, payload: JSON.stringify(payload), dedupe_key: dedupe_key ?? null, created_at: at });
        for (const pipeline of subs) store.triggers.deliveryInsert({ event_id: id, event_seq: seq, pipeline, status: 'pending', updated_at: at });
      });
    } catch (err) {
      if (isStorageError(err)) throw new DroverError('storage_unavailable', `storage unavailable while storing the event: ${(err as Error).message}`);
      throw err;
    }
    this.dispatch(this.ctx.clock.now(), subs);
    return { created: true, body: this.answer(store.triggers.eventGet(id)!) };
  }

  private answer(ev: TopicEventRow) {
    const runs = this.ctx.store.triggers.runsOfEvent(ev.id).map((r) => this.ctx.store.getRun(r)).filter((r) => r !== null).map(runSummary);
    return { event: this.view(ev), runs };
  }

  view(ev: TopicEventRow) {
    const ds = this.ctx.store.triggers.deliveriesOf(ev.id);
    return {
      id: ev.id, topic: ev.topic, status: eventStatus(ds), payload: JSON.parse(ev.payload), dedupe_key: ev.dedupe_key, created_at: ev.created_at,
      deliveries: ds.map((d) => ({
        pipeline: d.pipeline, status: d.status, runs: d.runs, run_id: d.run_id, reason: d.reason, message: d.message,
        not_before: d.not_before === null ? null : isoNow(d.not_before), updated_at: d.updated_at,
      })),
      run_ids: this.ctx.store.triggers.runsOfEvent(ev.id),
    };
  }

  /** Make runs for pending deliveries, within each trigger's budget. */
  dispatch(now: number, pipelines = this.ctx.store.triggers.pendingPipelines(now)): void {
    for (const pipeline of pipelines) {
      try { this.dispatchPipeline(pipeline, now); } catch (err) {
        this.ctx.log.error('events: dispatch failed; will retry', { pipeline, err: String(err) });
      }
    }
  }

  private dispatchPipeline(pipeline: string, now: number): void {
    const { store } = this.ctx;
    const on = this.latest(pipeline)?.spec?.on;
    let room = MAX_PER_PASS;
    if (on?.max_concurrent) room = Math.min(room, on.max_concurrent - store.triggers.countDeliveries(pipeline, 'reserved'));
    if (on?.max_runs_per_hour) room = Math.min(room, on.max_runs_per_hour - store.triggers.eventRunsSince(pipeline, now - HOUR));
    if (room <= 0) return;
    for (const d of store.triggers.pendingDeliveries(pipeline, now, room)) this.reserve(d, now);
  }

  private reserve(d: DeliveryRow, now: number): void {
    const { store, engine, log } = this.ctx;
    const at = isoNow(now);
    const ev = store.triggers.eventGet(d.event_id)!;
    const on = this.latest(d.pipeline)?.spec?.on;
    if (!on || on.topic !== ev.topic) {
      this.ctx.engine.transact(() => store.triggers.deliveryTransition(d.event_id, d.pipeline, 'pending', 'failed', { reason: 'unsubscribed', message: `pipeline '${d.pipeline}' no longer subscribes to topic '${ev.topic}'` }, at));
      return;
    }
    const trigger = { kind: 'event' as const, event_id: ev.id, topic: ev.topic, delivery: d.runs + 1 };
    const dirs: string[] = [];
    try {
      this.ctx.engine.transact(() => {
        const { body } = submit(engine, { pipeline: d.pipeline, params: JSON.parse(ev.payload), trigger });
        const b = body as { run?: { id: string; dir: string }; runs?: { id: string; dir: string }[] };
        const runs = b.run ? [b.run] : b.runs ?? [];
        dirs.push(...runs.map((r) => r.dir));
        for (const r of runs) store.triggers.eventRunInsert({ run_id: r.id, event_id: ev.id, pipeline: d.pipeline, created_ms: now });
        const ok = store.triggers.deliveryTransition(d.event_id, d.pipeline, 'pending', 'reserved', { runs: d.runs + 1, run_id: runs[0]?.id ?? null, not_before: null, reason: null, message: null }, at);
        if (!ok) throw new LostRace();
      });
    } catch (err) {
      if (err instanceof LostRace) {
        for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
        return;
      }
      if (isStorageError(err) || (err instanceof DroverError && err.code === 'storage_unavailable')) {
        log.error('events: could not make a run; will retry', { event: d.event_id, pipeline: d.pipeline, err: String(err) });
        return;
      }
      // the spec cannot make a run from this payload (bad reference, workspace gone…): that will not change
      const code = err instanceof DroverError ? err.code : 'internal';
      this.ctx.engine.transact(() => store.triggers.deliveryTransition(d.event_id, d.pipeline, 'pending', 'failed', { reason: code, message: err instanceof Error ? err.message : String(err) }, at));
      log.warn('events: could not make a run', { event: d.event_id, pipeline: d.pipeline, err: String(err) });
    }
  }

  /** A run ended: settle the delivery it holds (if it is still the one holding it). */
  settleRun(runId: string, now: number): void {
    const { store } = this.ctx;
    const run = store.getRun(runId);
    if (!run) return;
    let t: { kind?: unknown; event_id?: unknown };
    try { t = JSON.parse(run.trigger); } catch { return; }
    if (t.kind !== 'event' || typeof t.event_id !== 'string') return;
    const d = store.triggers.deliveryGet(t.event_id, run.pipeline);
    if (d && d.status === 'reserved') this.settle(d, now);
  }

  /** Settle one reserved delivery from its run's (group's) outcome; nothing while it still runs. */
  settle(d: DeliveryRow, now: number): void {
    const { store, engine } = this.ctx;
    const at = isoNow(now);
    const head = d.run_id ? store.getRun(d.run_id) : null;
    if (!head) {
      this.ctx.engine.transact(() => store.triggers.deliveryTransition(d.event_id, d.pipeline, 'reserved', 'pending', { reason: 'run_missing', message: `the run ${d.run_id ?? '?'} that held it no longer exists; it will get a new run` }, at));
      return;
    }
    const runs = store.runsOfGroup(head.group_id);
    if (runs.some((r) => r.status === 'queued' || r.status === 'running')) return;
    const failed = runs.some((r) => r.status === 'failed');
    const canceled = !failed && runs.some((r) => r.status === 'canceled');
    const move = (to: EventStatus, patch: Parameters<typeof store.triggers.deliveryTransition>[4]) =>
      this.ctx.engine.transact(() => store.triggers.deliveryTransition(d.event_id, d.pipeline, 'reserved', to, patch, at));
    if (!failed && !canceled) { move('consumed', { reason: null, message: null }); return; }
    if (canceled) { move('failed', { reason: 'run_canceled', message: `run ${head.id} was canceled` }); return; }
    let policy: RetryPolicy;
    try { policy = engine.specOfRun(head.id).retries; } catch { policy = { max: 0, backoff_ms: 0, max_backoff_ms: 0, lost: 0 }; }
    if (d.runs - 1 < policy.max) {
      const delay = eventRetryDelay(policy, d.runs);
      move('pending', { not_before: now + delay, reason: 'run_failed', message: `run ${head.id} failed; run ${d.runs + 1} of ${policy.max + 1} after ${delay} ms (retries.max ${policy.max})` });
    } else {
      move('failed', { reason: 'retries_exhausted', message: `run ${head.id} failed, and ${d.runs} run(s) were made (retries.max ${policy.max})` });
    }
  }

  /** After a crash: reserved deliveries whose run is gone go back to pending; ended runs are settled. */
  recover(now: number): void {
    for (const d of this.ctx.store.triggers.deliveriesWithStatus('reserved')) {
      try { this.settle(d, now); } catch (err) { this.ctx.log.error('events: could not recover a delivery', { event: d.event_id, pipeline: d.pipeline, err: String(err) }); }
    }
  }
}
