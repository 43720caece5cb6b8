// The scheduler engine. One loop, woken by events (submit, completion, resume) and a 1 s tick.
// Each tick is one transaction (transact) that runs these steps in order:
//   finals.claim()        markers for ends that wait for their finalizer (finalize.ts)
//   applyObservation()    finished attempts → job status, retries, roll-up (ends.ts)
//   recordHandle()        executor handles of jobs started last tick (for re-adoption)
//   reaperPass.pass()     the reaper (leases, stalled finalizations, backstop) and deadlines (reaper.ts)
//   startWithinLimits()   ready jobs while the admission gates allow (starts.ts, gates.ts)
// transact() is the only way anything changes state: tick, control actions, the agent broker and the
// triggers all go through it. Its effects (executor starts and cancels, result.json, events) run only
// after the commit and are dropped on rollback, and the slot ledger rolls back with it.
import { isoNow } from '../ids.ts';
import { isStorageError } from '../errors.ts';
import type { PipelineSpec, ValidateOptions } from '../spec/index.ts';
import type { Store, Executor, Logger, Clock, Observation, Handle } from '../ports.ts';
import type { JobRow } from '../types.ts';
import type { EngineConfig } from '../config.ts';
import type { RollupCtx } from './rollup.ts';
import { BlockerLog } from './blocker-log.ts';
import type { SecretsView } from '../secrets/types.ts';
import { Finalizers } from './finalize.ts';
import type { Reaper, ReaperCounters } from './reaper.ts';
import { TxEffects } from './tx-effects.ts';
import { Capacities } from './capacity.ts';
import { SlotLedger } from './slot-ledger.ts';
import { ReadyQueue } from './ready-queue.ts';
import { SpecCatalog } from './spec-catalog.ts';
import type { GateView } from './gates.ts';
import type { RunFolders } from './run-folders.ts';
import { wireEngine, initExecutors } from './engine-wiring.ts';
import { applyObservation, finishRunning } from './ends.ts';
import { startWithinLimits, startOne } from './starts.ts';
import { adoptRunning, pollLoop, type AdoptionHost } from './adoption.ts';
import { runEffects, type AfterCommitDeps } from './after-commit.ts';
import { isolated } from './isolation.ts';
import { giveBack } from './reservations.ts';
import { Waker } from './waker.ts';
import { StatusPublisher } from './status-publisher.ts';
import type { EngineDeps } from './engine-deps.ts';

/** the longest a started job's handle waits to be stored (it rides along with the next tick) */
const HANDLE_WAIT_MS = 50;
export type { EngineDeps };

export class Engine {
  readonly store: Store;
  readonly executors: Map<string, Executor>;
  readonly log: Logger;
  readonly clock: Clock;
  readonly config: EngineConfig;
  /** which jobs hold which executor's slots: the only source of running counts */
  readonly ledger = new SlotLedger();
  readonly ready = new ReadyQueue();
  readonly catalog: SpecCatalog;
  /** each queued job's why-history, written once per change */
  readonly blockers: BlockerLog;
  readonly capacity = new Capacities(); // each executor's slots, or why its backend is missing
  /** run folders a big sweep's submit left for later (run-folders.ts) */
  readonly folders: RunFolders;
  private observations: Observation[] = [];
  private handles: { jobId: string; attempt: number; handle: Handle }[] = [];
  /** the effects buffer of the transaction in progress (null: none) */
  private fx: TxEffects | null = null;
  private readonly waker: Waker;
  stopped = false;
  storageError: string | null = null;
  /** a full pass found nothing for ownQueue executors while max_parallel was reached (starts.ts) */
  ownQueueIdle = false;
  /** called whenever jobs become queued (the agent broker wakes its long-polls) */
  readonly queuedListeners: (() => void)[] = [];
  /** the reaper's counters (/metrics); the engine counts fenced ends and row errors itself */
  readonly reaper: ReaperCounters = { reaped: 0, reaped_finalizer: 0, deferred: 0, backstop: 0, fenced: 0, errors: 0 };
  readonly finals: Finalizers;
  private readonly reaperPass: Reaper;
  private readonly publisher: StatusPublisher;
  private readonly afterCommit: AfterCommitDeps;
  private readonly adoption: AdoptionHost;
  readonly secrets?: SecretsView;

  constructor(d: EngineDeps) {
    this.store = d.store; this.executors = d.executors; this.clock = d.clock; this.log = d.log; this.config = d.config;
    this.secrets = d.secrets;
    this.waker = new Waker(() => { const t0 = performance.now(); this.tick(); d.telemetry?.tick((performance.now() - t0) / 1000); },
      { intervalMs: d.config.tickIntervalMs, batchWindowMs: d.config.batchWindowMs, pending: () => this.observations.length > 0 });
    this.blockers = new BlockerLog(d.store, () => this.effects());
    this.catalog = new SpecCatalog(d.store, () => [...this.executors.keys(), 'agent']);
    this.finals = new Finalizers({ gate: d.logGate, failpoints: d.failpoints, graceMs: d.config.finalizeGraceMs, log: d.log, resume: (o) => this.deliver(o) });
    this.publisher = new StatusPublisher(d.store, d.bus);
    // where the executor re-adopts from the job's folder, a handle waits for a tick that comes anyway (at
    // the latest HANDLE_WAIT_MS); other executors need it stored before a crash can lose it
    const recordHandle = (h: { jobId: string; attempt: number; handle: Handle }) => {
      this.handles.push(h);
      if (this.executors.get(h.handle.executor)?.adoptsFromFolder) this.waker.wakeWithin(HANDLE_WAIT_MS); else this.wake();
    };
    ({ afterCommit: this.afterCommit, adoption: this.adoption, reaper: this.reaperPass, folders: this.folders } = wireEngine(this, d, {
      observe: (o) => this.observations.push(o), handle: (h) => this.handles.push(h), recordHandle,
    }));
  }

  // ---- life cycle ----

  async start(): Promise<void> {
    this.publisher.start();
    await initExecutors(this);
    this.capacity.watch(this.executors, this.config.redetectMs ?? 30_000, () => this.wake());
    // leases get a grace period from our own restart: agents could not reach a dead server
    this.store.extendLeases(this.clock.now() + this.config.leaseGraceMs);
    this.store.expireFinalizers(); // their finalizers died with the previous server: the reaper takes those jobs
    await adoptRunning(this.adoption);
    this.folders.load(); // folders a crash left unmade
    this.rebuildReady();
    for (const [name, ex] of this.executors) if (ex.pollIntervalMs) pollLoop(this.adoption, name, ex);
    this.waker.start();
    void this.folders.pump();
  }

  stop(): void { this.stopped = true; this.waker.stop(); this.capacity.stop(); }

  /** An observation for the next tick (executors, finalizers, the reaper). */
  deliver(o: Observation): void { this.observations.push(o); this.wake(); }

  private rebuildReady(): void {
    this.ownQueueIdle = false; // (backoffs may have ended)
    for (const g of this.store.queuedGroups()) if (g.status !== 'paused') this.ready.add(g.id, g.priority);
  }

  /** Come back at `when` (a backoff ends). */
  wakeAt(when: number): void { this.waker.later(when - this.clock.now(), () => { this.rebuildReady(); this.wake(); }); }
  /** A tick soon (coalesced: waker.ts). */
  wake(): void { this.waker.wake(); }

  private periodicDue(now: number): boolean {
    if (now - this.lastPeriodic < this.config.tickIntervalMs / 4) return false;
    this.lastPeriodic = now; return true;
  }
  private lastPeriodic = -Infinity;
  /** whether the last tick ran the periodic steps (the reaper, a rebuild of the ready set) */
  lastTickPeriodic = false;

  // ---- transactions ----

  /**
   * The one way to change state: `fn` runs in a transaction (a savepoint when nested) with an effects
   * buffer. Effects run after the outermost commit; on rollback they are dropped, the undo list runs and
   * the slot ledger returns to where it was. Errors propagate.
   */
  transact<T>(fn: (fx: TxEffects) => T): T {
    const parent = this.fx;
    const fx = new TxEffects();
    const mark = this.ledger.mark();
    this.fx = fx;
    let out: T;
    try {
      out = this.store.tx(() => fn(fx));
    } catch (err) {
      this.fx = parent;
      this.ledger.rollbackTo(mark);
      fx.rollBack();
      throw err;
    }
    this.fx = parent;
    if (parent) fx.foldInto(parent);
    else { this.ledger.commit(); runEffects(this, this.afterCommit, fx); }
    return out;
  }

  /** The effects buffer of the transaction in progress; changing state outside one is a bug. */
  effects(): TxEffects {
    if (!this.fx) throw new Error('DroverInternal<engine> a state change outside engine.transact()');
    return this.fx;
  }

  /** One job's work in a savepoint: an internal error fails that job only (isolation.ts). */
  isolated<T>(jobId: string, at: string, fn: () => T): T | null { return this.rowsShareTx ? fn() : isolated(this, jobId, at, fn); }
  /** during a tick's first try: a row's work runs without a savepoint of its own */
  private rowsShareTx = false;

  // ---- the tick ----

  tick(): void {
    const now = this.clock.now();
    // an end that must wait (its redacted log is still being copied) comes back once its finalizer is done
    const obs = this.observations.filter((o) => this.finals.offer(o, now) === 'now');
    this.observations = [];
    const handles = this.handles; this.handles = [];
    const at = isoNow(now);
    const periodic = this.periodicDue(now);
    this.lastTickPeriodic = periodic;
    const pass = () => this.transact((fx) => {
      fx.onRollback(() => { // nothing of this tick was committed: keep its inputs for the next one
        this.observations.unshift(...obs); this.handles.unshift(...handles);
        this.finals.rolledBack();
      });
      fx.afterCommit(() => this.finals.committed());
      this.finals.claim(this.store, now);
      for (const o of obs) this.isolated(o.jobId, at, () => applyObservation(this, o, at, now));
      // (a job whose end this tick applied needs its handle no more: short jobs end before it is stored)
      const ended = new Set(obs.filter((o) => o.state !== 'running').map((o) => `${o.jobId}:${o.attempt}`));
      for (const h of handles) if (!ended.has(`${h.jobId}:${h.attempt}`)) this.recordHandle(fx, h);
      if (periodic) {
        this.reaperPass.pass(now, at);
        this.rebuildReady(); // groups whose backoffs ended, or that a rolled-back tick dropped
        fx.afterCommit(() => this.folders.retry(Date.now())); // run folders a failure left unmade
      }
      startWithinLimits(this, fx, at, now, periodic);
    });
    try {
      // rows share the tick's transaction (no savepoint each); a bug tripped by one row rolls the tick
      // back, and it runs again at once with a savepoint per row, so that only that row fails
      this.rowsShareTx = true;
      try { pass(); } catch (err) {
        if (isStorageError(err)) throw err;
        this.rowsShareTx = false;
        this.observations.splice(0, obs.length); this.handles.splice(0, handles.length); // (the rollback put them back)
        pass();
      } finally { this.rowsShareTx = false; }
      this.storageError = null;
    } catch (err) {
      this.storageError = String(err);
      this.log.error('scheduler tick failed; will retry', { err: String(err), storage: isStorageError(err) });
    }
  }

  publishEvents(): void { this.publisher.publish(); }

  private recordHandle(fx: TxEffects, h: { jobId: string; attempt: number; handle: Handle }): void {
    const job = this.store.recordHandle(h.jobId, h.attempt, JSON.stringify(h.handle));
    if (job?.status === 'running' && job.stop_reason) fx.cancel(h.handle); // a cancel came before the handle
  }

  // ---- slots, readiness, blockers (used by the steps in starts.ts, ends.ts, reaper.ts, control.ts) ----

  /** Jobs of ownQueue executors (Slurm) wait in their batch system's queue, outside max_parallel. */
  limited(executor: string): boolean { return !this.executors.get(executor)?.ownQueue; }
  slots(executor: string): number { return this.capacity.slots(executor); }

  ownQueueExecutors(): string[] { return [...this.executors].filter(([, ex]) => ex.ownQueue).map(([n]) => n); }
  ownQueueRoom(): boolean {
    for (const [name, ex] of this.executors) if (ex.ownQueue && this.ledger.running(name) < this.slots(name)) return true;
    return false;
  }

  holdSlot(job: JobRow, now: number): void {
    this.effects();
    this.ledger.hold(job.id, { executor: job.executor, limited: this.limited(job.executor), since: now });
  }

  /** The job no longer runs here: its slot frees (none for an agent's job) and its reservation goes back after the commit. */
  freeSlot(job: JobRow): void {
    const fx = this.effects();
    const slot = this.ledger.free(job.id);
    if (!slot) return;
    giveBack(fx, this.executors.get(job.executor), job, () => this.wake());
    if (!slot.limited) this.ownQueueIdle = false;
    this.ready.unpark();
  }

  gateView(now: number): GateView {
    return { store: this.store, executors: this.executors, unavailable: this.capacity.unavailable, ledger: this.ledger, catalog: this.catalog, config: this.config, now, slots: (e) => this.slots(e), limited: (e) => this.limited(e), folderPending: (runId) => this.folders.isPending(runId) };
  }


  onQueued(groupId: string): void {
    this.ownQueueIdle = false;
    this.effects().queued(groupId);
    const g = this.store.getGroup(groupId);
    if (g && g.status !== 'paused') this.ready.add(groupId, g.priority);
  }

  rollupCtx(at: string): RollupCtx {
    const fx = this.effects();
    return {
      store: this.store, at,
      onQueued: (g) => this.onQueued(g),
      onRunEnded: (r) => fx.runEnded(r),
      onGroupEnded: (g) => this.ready.drop(g),
    };
  }

  // ---- what the agent broker and control actions call, inside transact() ----

  startOne(job: JobRow, at: string, now: number, lease: { token: string; expiresAt: number }) { return startOne(this, job, at, now, null, lease); }
  finishRunning(job: JobRow, r: Parameters<typeof finishRunning>[2], at: string, now: number): void { finishRunning(this, job, r, undefined, at, now); }

  // ---- specs (SpecCatalog) ----

  specOfRun(runId: string): PipelineSpec { return this.catalog.specOfRun(runId); }
  jobDir(job: Pick<JobRow, 'run_id' | 'id'>): string { return this.catalog.jobDir(job); }
  commandCount(job: JobRow): number { return this.catalog.commandCount(job); }

  /** How submitted specs are validated: the loaded executors, and their own checks of resources. */
  validateOptions(): ValidateOptions {
    return {
      executors: [...this.executors.keys(), 'agent'],
      checkResources: (executor, resources) => this.executors.get(executor)?.checkResources?.(resources) ?? null,
      maxJobPoints: this.config.maxSweep,
    };
  }
}
