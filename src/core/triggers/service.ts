// TriggerService: what starts runs besides a person — cron schedules, topic events, webhooks — and
// the cost book-keeping of finished attempts. One loop, re-armed after each pass with a timer of at
// most MAX_WAIT_MS (never one long timer: a schedule a month away is a deadline the loop checks), does:
//   refresh()      the latest spec of each pipeline (whose schedule/on/webhook count)
//   fireDue()      due cron occurrences → runs (schedules.ts)
//   dispatch()     pending event deliveries → runs, within each trigger's budget (topics.ts)
//   recover()      every RECOVER_EVERY_MS: reserved deliveries whose run ended or vanished unseen
// Bus 'status' events drive the rest: a job that left `running` gets its cost recorded; a run that
// ended settles the event delivery it holds (then a dispatch pass is queued, never run inside the
// emit: the engine's publisher must not be re-entered).
import { DroverError } from '../errors.ts';
import { submit } from '../scheduler/control.ts';
import type { Engine } from '../scheduler/engine.ts';
import type { Bus } from '../events.ts';
import type { Clock, Logger } from '../ports.ts';
import type { StatusEvent } from '../types.ts';
import { Schedules, scheduleView } from './schedules.ts';
import { Topics } from './topics.ts';
import { recordJobCosts } from './cost.ts';
import { noSecrets, verifySignature, hookParams, type SecretSource } from './webhook.ts';
import type { LatestSpec, TriggerCtx } from './context.ts';

const MAX_WAIT_MS = 1_000;
const RECOVER_EVERY_MS = 5_000;
const TERMINAL_RUN = new Set(['succeeded', 'failed', 'canceled']);
/** how long ended jobs' costs gather before they are written together (a run's end flushes at once) */
const COST_BATCH_MS = 200;

export interface TriggerServiceDeps { engine: Engine; bus: Bus; log: Logger; clock?: Clock; secrets?: SecretSource }

export class TriggerService {
  readonly ctx: TriggerCtx;
  readonly startedMs: number;
  readonly schedules: Schedules;
  readonly topics: Topics;
  private secrets: SecretSource;
  private latest = new Map<string, LatestSpec>();
  private byTopic = new Map<string, string[]>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private soon: ReturnType<typeof setImmediate> | null = null;
  private costsDue = new Set<string>();
  private costsSoon: ReturnType<typeof setTimeout> | null = null;
  private unsubscribe: (() => void) | null = null;
  private lastRecover = 0;
  private stopped = false;

  constructor(private d: TriggerServiceDeps) {
    const clock = d.clock ?? { now: () => Date.now() };
    this.ctx = { engine: d.engine, store: d.engine.store, log: d.log, clock };
    this.startedMs = clock.now();
    this.secrets = d.secrets ?? noSecrets;
    this.schedules = new Schedules(this.ctx, this.startedMs);
    this.topics = new Topics(this.ctx, (name) => this.latest.get(name), (topic) => this.byTopic.get(topic) ?? []);
  }

  start(): void {
    this.unsubscribe = this.d.bus.on('status', (e) => this.onStatus(e));
    this.backfillCosts();
    this.pass();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.soon) clearImmediate(this.soon);
    this.flushCosts();
    this.unsubscribe?.();
  }

  /** Re-read the pipelines now (after a registration) and run a pass. */
  poke(): void {
    if (this.stopped) return;
    this.refresh();
    this.arm(0);
  }

  // ---- the loop ----

  private pass(): void {
    if (this.stopped) return;
    const now = this.ctx.clock.now();
    let next: number | null = null;
    try {
      this.refresh();
      next = this.schedules.fireDue(now);
      this.topics.dispatch(now);
      if (now - this.lastRecover >= RECOVER_EVERY_MS) {
        this.lastRecover = now;
        this.topics.recover(now);
        this.topics.dispatch(this.ctx.clock.now());
      }
    } catch (err) {
      this.ctx.log.error('trigger pass failed; will retry', { err: String(err) });
    }
    this.arm(next === null ? MAX_WAIT_MS : next - this.ctx.clock.now());
  }

  private arm(waitMs: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => { this.timer = null; this.pass(); }, Math.min(MAX_WAIT_MS, Math.max(0, waitMs)));
    this.timer.unref?.();
  }

  /** The latest version of each pipeline; schedules and topic subscriptions follow the ones that changed. */
  refresh(): void {
    const changed: LatestSpec[] = [];
    for (const p of this.ctx.store.pipelinesList()) {
      if (this.latest.get(p.name)?.version === p.version) continue;
      let spec: LatestSpec['spec'] = null;
      try { spec = this.ctx.engine.catalog.spec(p.name, p.version); } catch (err) {
        this.ctx.log.warn('triggers: the latest spec does not validate here; its triggers are off', { pipeline: p.name, version: p.version, err: String(err) });
      }
      const entry = { name: p.name, version: p.version, created_at: p.updated_at, spec };
      this.latest.set(p.name, entry);
      changed.push(entry);
    }
    if (!changed.length) return;
    this.schedules.sync(changed);
    this.byTopic.clear();
    for (const p of this.latest.values()) {
      const topic = p.spec?.on?.topic;
      if (topic) this.byTopic.set(topic, [...(this.byTopic.get(topic) ?? []), p.name]);
    }
  }

  // ---- bus ----

  private onStatus(e: StatusEvent): void {
    try {
      if (e.kind === 'job' && e.status !== 'running') {
        this.costsDue.add(e.id);
        // gathered for a short while: one transaction for many ends (not one commit per job at a high job rate)
        this.costsSoon ??= setTimeout(() => this.recordCosts(), COST_BATCH_MS);
      } else if (e.kind === 'run' && TERMINAL_RUN.has(e.status)) {
        // its jobs' end events came first: their costs are in before anyone can read the ended run
        this.flushCosts();
        this.topics.settleRun(e.id, this.ctx.clock.now());
        this.dispatchSoon();
      }
    } catch (err) {
      this.ctx.log.warn('triggers: could not handle a status event', { kind: e.kind, id: e.id, err: String(err) });
    }
  }

  /** Record the batched costs now instead of at the next turn of the event loop. */
  private flushCosts(): void {
    if (!this.costsSoon) return;
    clearTimeout(this.costsSoon);
    this.recordCosts();
  }

  /** The costs of the jobs that ended since the last call, in one transaction (one commit, not one per job). */
  private recordCosts(): void {
    this.costsSoon = null;
    const ids = [...this.costsDue];
    this.costsDue.clear();
    try {
      this.ctx.engine.transact(() => recordJobCosts(this.ctx.store, ids));
    } catch (err) {
      // what is not recorded now is found by the backfill at the next start
      this.ctx.log.warn('triggers: could not record job costs', { jobs: ids.length, err: String(err) });
    }
  }

  private dispatchSoon(): void {
    if (this.soon || this.stopped) return;
    this.soon = setImmediate(() => {
      this.soon = null;
      try { this.topics.dispatch(this.ctx.clock.now()); } catch (err) { this.ctx.log.error('events: dispatch failed', { err: String(err) }); }
    });
  }

  /** Attempts that ended while no one recorded their cost (a crash between the commit and the event). */
  private backfillCosts(): void {
    for (let round = 0; round < 100; round++) {
      const todo = this.ctx.store.triggers.attemptsWithoutCost(500);
      if (!todo.length) return;
      let n = 0;
      this.ctx.engine.transact(() => { n += recordJobCosts(this.ctx.store, [...new Set(todo.map((t) => t.job_id))]); });
      if (n === 0) return; // the rest cannot be recorded (their runs are gone)
    }
  }

  // ---- entry points for the routes ----

  publish(topic: string, body: unknown) {
    this.refresh();
    return this.topics.publish(topic, body);
  }

  /** POST /hooks/:pipeline: 404 unless the latest spec has `webhook:`; 401 unless the signature is right. */
  hook(pipeline: string, body: Uint8Array, signature: string | null | undefined) {
    const { store, engine } = this.ctx;
    const row = store.pipelineLatest(pipeline);
    const spec = row ? engine.catalog.spec(row.name, row.version) : null;
    if (!spec?.webhook) throw new DroverError('not_found', `no pipeline named '${pipeline}' with a webhook`, { pipeline });
    verifySignature(this.secrets.get(spec.webhook.secret), body, signature, spec.webhook.secret);
    const params = hookParams(body);
    return submit(engine, { pipeline, params, trigger: { kind: 'webhook', at: new Date(this.ctx.clock.now()).toISOString() } }).body;
  }

  /** The triggers part of GET /pipelines/:name. */
  pipelineTriggers(name: string) {
    return pipelineTriggers(this.ctx, name);
  }
}

/** schedule (next fire times, last fire), event subscription (deliveries by status), webhook and cost of a pipeline's latest spec. */
export function pipelineTriggers(ctx: Pick<TriggerCtx, 'store' | 'engine'>, name: string, now = Date.now()) {
  const row = ctx.store.pipelineLatest(name);
  let spec = null;
  try { spec = row ? ctx.engine.catalog.spec(row.name, row.version) : null; } catch { /* shown without its triggers */ }
  return {
    schedule: spec?.schedule ? scheduleView(ctx, name, spec.schedule, now) : null,
    on: spec?.on ? { ...spec.on, events: ctx.store.triggers.deliveryCounts(name) } : null,
    webhook: spec?.webhook ? { secret: spec.webhook.secret, path: `/api/v1/hooks/${name}` } : null,
    cost: ctx.store.triggers.costOfPipeline(name),
  };
}
