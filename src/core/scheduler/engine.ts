// The scheduler engine. One loop, woken by events (submit, completion, resume) and a 1 s tick.
// Each tick is one transaction that runs these steps in order:
//   finals.claim()       markers for ends that wait for their finalizer (finalize.ts)
//   applyObservations()  finished attempts → job status, retries, roll-up to stage/run/group
//   recordHandles()      executor handles of jobs started last tick (for re-adoption)
//   reaperPass.pass()    the reaper (leases, stalled finalizations, backstop) and deadlines (reaper.ts)
//   startWithinLimits()  ready jobs by priority, then round-robin across groups, then FIFO,
//                        while max_parallel and the executor's slots allow
// Executors are started after the commit, so a crash can never leave a process the DB does not know.
import { writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { isoNow } from '../ids.ts';
import { lostEnd } from '../observations.ts';
import { DroverError, isStorageError } from '../errors.ts';
import { RETRYABLE, backoffDelay } from '../retry.ts';
import { validateSpec, type PipelineSpec, type ValidateOptions } from '../spec/index.ts';
import type { Store, Executor, Logger, Clock, Observation, PreparedJob, Handle, Admission, ExitOutcome, Blocker, JobResult } from '../ports.ts';
import type { JobRow, RunRow } from '../types.ts';
import type { EngineConfig } from '../config.ts';
import type { Bus } from '../events.ts';
import { prepareJob, writeJobFiles, PrepareFailure } from './prepare.ts';
import { rollUpStage, rollUpGroup, type RollupCtx } from './rollup.ts';
import { mergeInputs, type MergePolicy } from './outputs.ts';
import { needsDoc } from './needs.ts';
import { runResult } from './result.ts';
import type { SecretsView } from '../secrets/types.ts';
import type { LogGate } from '../redact/pool.ts';
import type { Failpoints } from '../failpoints.ts';
import { Finalizers } from './finalize.ts';
import { Reaper, type ReaperCounters } from './reaper.ts';

/** queued jobs read per group and start (a start usually takes the first; each row read costs) */
const FIRST_WINDOW = 8;

export interface EngineDeps {
  store: Store; executors: Map<string, Executor>; clock: Clock; log: Logger; bus: Bus; config: EngineConfig;
  /** secret values for jobs, and redaction of what the engine stores (outputs, messages, result.json) */
  secrets?: SecretsView;
  /** holds an ended job until its redacted log is final (jobs with secrets), applies the log cap */
  logGate?: LogGate;
  /** called with each result.json written (provenance: the attestation beside it) */
  onResult?: (run: RunRow, text: string) => void;
  /** test-only pauses, hangs and crashes at named places (DROVER_FAILPOINTS) */
  failpoints?: Failpoints;
}

export class Engine {
  readonly store: Store;
  readonly executors: Map<string, Executor>;
  private log: Logger;
  private clock: Clock;
  private bus: Bus;
  readonly config: EngineConfig;
  /** jobs running per executor, and in all (mirrors the DB; rebuilt at start) */
  readonly running = new Map<string, number>();
  runningTotal = 0;
  /** running jobs that count toward max_parallel (all but those of ownQueue executors such as Slurm) */
  runningLimited = 0;
  readonly slots = new Map<string, number>();
  private ready = new Map<string, { priority: number; served: number }>();
  private parked = new Map<string, number>();
  private startedThisTick: JobRow[] = [];
  /** executors whose running count was given back inside the current transaction (a rollback takes it back) */
  private endedInTx: string[] = [];
  private servedCounter = 0;
  private observations: Observation[] = [];
  private handles: { jobId: string; attempt: number; handle: Handle }[] = [];
  private cancels: { handle: Handle }[] = [];
  private runsEnded: string[] = [];
  readonly canceledGroups = new Set<string>();
  private specs = new Map<string, PipelineSpec>();
  private scheduled = false;
  private timer: ReturnType<typeof setInterval> | null = null;
  private lastSeq = 0;
  private lastBlockerSig = new Map<string, string>();
  stopped = false;
  storageError: string | null = null;
  /** called whenever jobs become queued (the agent broker wakes its long-polls) */
  readonly queuedListeners: (() => void)[] = [];
  /** the reaper's counters (/metrics); the engine counts fenced ends and row errors itself */
  readonly reaper: ReaperCounters = { reaped: 0, reaped_finalizer: 0, deferred: 0, backstop: 0, fenced: 0, errors: 0 };
  readonly finals: Finalizers;
  private readonly reaperPass: Reaper;
  /** work for after this tick's commit (dropped if it rolls back) */
  private afterCommitTasks: (() => void)[] = [];
  readonly secrets?: SecretsView;
  private logGate?: LogGate;
  private onResult?: (run: RunRow, text: string) => void;

  constructor(d: EngineDeps) {
    this.store = d.store; this.executors = d.executors; this.clock = d.clock; this.log = d.log; this.bus = d.bus; this.config = d.config;
    this.secrets = d.secrets; this.logGate = d.logGate; this.onResult = d.onResult;
    const deliver = (o: Observation) => { this.observations.push(o); this.wake(); };
    this.finals = new Finalizers({ gate: d.logGate, failpoints: d.failpoints, graceMs: d.config.finalizeGraceMs, log: d.log, resume: deliver });
    this.reaperPass = new Reaper({
      store: this.store, config: this.config, log: this.log, finals: this.finals, executors: this.executors, logGate: this.logGate,
      now: () => this.clock.now(),
      isolated: (jobId, at, fn) => this.isolated(jobId, at, fn),
      retry: (job, reason, message, at, now) => this.retry(job, reason, message, at, now),
      rollupCtx: (at) => this.rollupCtx(at),
      countEnd: (executor, jobId) => this.countEnd(executor, jobId),
      queueCancel: (handle) => this.queueCancel(handle),
      afterCommit: (fn) => { this.afterCommitTasks.push(fn); },
      deliver,
      recordHandleLater: (h) => { this.handles.push(h); this.wake(); },
      specOfRun: (runId) => this.specOfRun(runId), jobDir: (job) => this.jobDir(job), commandCount: (job) => this.commandCount(job),
      handleOf: (job) => this.handleOf(job),
    }, this.reaper);
  }

  // ---- life cycle ----

  async start(): Promise<void> {
    this.lastSeq = this.store.lastEventSeq();
    for (const [name, ex] of this.executors) {
      ex.init?.({
        notify: (o) => { this.observations.push(o); this.wake(); },
        recordStats: (jobId, attempt, stats) => {
          try { this.store.setJobStats(jobId, attempt, JSON.stringify(stats)); } catch (err) { this.log.warn('could not store job stats', { jobId, err: String(err) }); }
        },
        log: this.log.scope({ executor: name }),
      });
      const cap = await ex.detect().catch((e) => ({ available: false, slots: 0, reason: String(e) }));
      this.slots.set(name, cap.available ? cap.slots : 0);
      this.running.set(name, 0);
    }
    // leases get a grace period from our own restart: agents could not reach a dead server
    this.store.extendLeases(this.clock.now() + this.config.leaseGraceMs);
    this.store.expireFinalizers(); // their finalizers died with the previous server: the reaper takes those jobs
    await this.adoptRunning();
    this.rebuildReady();
    for (const [name, ex] of this.executors) if (ex.pollIntervalMs) this.pollLoop(name, ex);
    this.timer = setInterval(() => this.wake(), this.config.tickIntervalMs);
    this.wake();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
  }

  /** Executors that cannot tell us of an exit (Slurm) are polled: one batched call for all their jobs. */
  private pollLoop(name: string, ex: Executor): void {
    const again = () => { if (!this.stopped) setTimeout(run, ex.pollIntervalMs!()).unref?.(); };
    const run = async () => {
      try {
        const jobs = this.store.runningJobsOf(name).filter((j) => j.handle && !j.final_token); // (an end being finalized is not polled again)
        if (jobs.length) {
          const obs = await ex.poll(jobs.map((j) => ({ jobId: j.id, attempt: j.attempt, handle: JSON.parse(j.handle!) as Handle })));
          const ended = obs.filter((o) => o.state !== 'running');
          if (ended.length) { this.observations.push(...ended); this.wake(); }
        }
      } catch (err) {
        this.log.warn('executor poll failed; will retry', { executor: name, err: String(err) });
      }
      again();
    };
    again();
  }

  /** Re-adopt jobs that were running when the previous server died: none lost, none run twice. */
  private async adoptRunning(): Promise<void> {
    for (const job of this.store.jobsWithStatus('running')) {
      if (job.lease_token) continue; // held by a remote agent: its lease decides
      this.countStart(job.executor);
      const ex = this.executors.get(job.executor);
      if (job.device && ex?.readmit) ex.readmit(job.id, JSON.parse(job.device));
      if (job.final_token) continue; // its end was observed already; its finalization is the reaper's (tier b)
      const handle = this.handleOf(job);
      if (!ex?.adopt) {
        this.observations.push(lostEnd(job.id, job.attempt, `executor '${job.executor}' cannot re-adopt jobs`));
        continue;
      }
      const obs = await ex.adopt(job.id, job.attempt, handle).catch((e) => lostEnd(job.id, job.attempt, String(e)));
      this.log.info('re-adopted job', { jobId: job.id, state: obs.state });
      if (obs.state !== 'running') this.observations.push(obs);
      else if (obs.handle) this.handles.push({ jobId: job.id, attempt: job.attempt, handle: obs.handle });
    }
  }

  private rebuildReady(): void {
    this.ownQueueIdle = false; // (backoffs may have ended)
    for (const g of this.store.queuedGroups()) {
      if (g.status === 'paused' || this.ready.has(g.id)) continue;
      this.ready.set(g.id, { priority: g.priority, served: 0 });
    }
  }

  /** Coalesce wake-ups into one tick; a short window lets completions that land together share one commit (fsync). */
  wake(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    const run = () => { this.scheduled = false; this.tick(); };
    if (this.config.batchWindowMs > 0 && this.observations.length > 0) setTimeout(run, this.config.batchWindowMs);
    else setImmediate(run);
  }

  private periodicDue(now: number): boolean {
    if (now - this.lastPeriodic < this.config.tickIntervalMs / 4) return false;
    this.lastPeriodic = now;
    return true;
  }
  private lastPeriodic = 0;

  // ---- the tick ----

  tick(): void {
    const now = this.clock.now();
    // an end that must wait (its redacted log is still being copied) comes back once its finalizer is done
    const obs = this.observations.filter((o) => this.finals.offer(o, now) === 'now');
    this.observations = [];
    const handles = this.handles; this.handles = [];
    const at = isoNow(now);
    let starts: { prepared: PreparedJob; job: JobRow }[] = [];
    this.startedThisTick = [];
    this.endedInTx = [];
    try {
      starts = this.store.tx(() => {
        this.finals.claim(this.store, now);
        for (const o of obs) this.isolated(o.jobId, at, () => this.applyObservation(o, at, now));
        for (const h of handles) this.recordHandle(h);
        const periodic = this.periodicDue(now);
        if (periodic) this.reaperPass.pass(now, at);
        return this.startWithinLimits(at, now, periodic);
      });
      this.storageError = null;
    } catch (err) {
      // nothing of this tick was committed: keep its inputs for the next one
      this.observations.unshift(...obs); this.handles.unshift(...handles);
      this.runsEnded = []; this.cancels = []; this.afterCommitTasks = [];
      this.finals.rolledBack();
      // the ends of this tick were rolled back (they are applied again): their jobs count as running again
      for (const ex of this.endedInTx.splice(0)) this.countStart(ex);
      // the starts of this tick were rolled back: give back their slots and reservations (GPUs)
      for (const j of this.startedThisTick.splice(0)) this.countEnd(j.executor, j.id);
      this.storageError = String(err);
      this.log.error('scheduler tick failed; will retry', { err: String(err), storage: isStorageError(err) });
      return;
    }
    this.finals.committed();
    this.afterCommit();
    if (this.logGate) for (const s of starts) this.logGate.started(s.prepared);
    this.launchAll(starts);
  }

  /** Executors that can start several jobs at once (sbatch --array) get this tick's jobs together. */
  private launchAll(starts: { prepared: PreparedJob; job: JobRow }[]): void {
    const batched = new Map<string, { prepared: PreparedJob; job: JobRow }[]>();
    for (const s of starts) {
      if (this.executors.get(s.job.executor)?.startMany) {
        const list = batched.get(s.job.executor) ?? [];
        list.push(s);
        batched.set(s.job.executor, list);
      } else this.launch(s.job, s.prepared);
    }
    for (const [name, list] of batched) {
      this.executors.get(name)!.startMany!(list.map((s) => s.prepared)).then(
        (handles) => { handles.forEach((handle, i) => this.handles.push({ jobId: list[i]!.job.id, attempt: list[i]!.job.attempt, handle })); this.wake(); },
        (err) => {
          this.log.error('executor failed to start jobs', { executor: name, err: String(err) });
          for (const s of list) this.observations.push(lostEnd(s.job.id, s.job.attempt, `spawn_failed: ${String(err)}`));
          this.wake();
        },
      );
    }
  }

  private afterCommit(): void {
    for (const runId of this.runsEnded.splice(0)) this.writeResult(runId);
    for (const fn of this.afterCommitTasks.splice(0)) fn();
    for (const c of this.cancels.splice(0)) {
      this.executors.get(c.handle.executor)?.cancel(c.handle, { graceMs: this.config.killGraceMs }).catch((e) => this.log.warn('cancel failed', { err: String(e) }));
    }
    this.publishEvents();
  }

  publishEvents(): void {
    for (;;) {
      const evs = this.store.eventsSince(this.lastSeq, 1000);
      if (evs.length === 0) return;
      for (const e of evs) this.bus.emit('status', e);
      this.lastSeq = evs[evs.length - 1]!.seq;
      if (evs.length < 1000) return; // (a short page is the end: no second query per commit)
    }
  }

  private launch(job: JobRow, prepared: PreparedJob): void {
    const ex = this.executors.get(job.executor)!;
    this.spawn(ex, job, prepared);
  }

  private spawn(ex: Executor, job: JobRow, prepared: PreparedJob): void {
    ex.start(prepared).then(
      (handle) => { this.handles.push({ jobId: job.id, attempt: job.attempt, handle }); this.wake(); },
      (err) => {
        this.log.error('executor failed to start job', { jobId: job.id, err: String(err) });
        this.observations.push(lostEnd(job.id, job.attempt, `spawn_failed: ${String(err)}`));
        this.wake();
      },
    );
  }

  // ---- step: apply observations ----

  private applyObservation(o: Observation, at: string, now: number): void {
    if (o.state === 'running') return;
    const job = this.store.getJob(o.jobId);
    if (!job || job.status !== 'running' || job.attempt !== o.attempt) {
      if (o.finalToken) this.reaper.fenced++;
      this.log.warn('ignored a stale observation', { jobId: o.jobId, attempt: o.attempt, status: job?.status, finalizer: !!o.finalToken });
      return;
    }
    if (!this.finals.owns(job, o)) { // a repeat of an end being finalized, or a finalizer the reaper replaced
      this.reaper.fenced++;
      this.log.warn('refused an end reported by a finalizer that does not own the job', { jobId: job.id, attempt: job.attempt, late: !!o.finalToken });
      return;
    }
    if (o.state === 'requeued') { this.requeueInPlace(job, o, at, now); return; }
    this.countEnd(job.executor, job.id);
    if (o.lostReason === 'never_started') {
      // the server died between committing "running" and spawning: the job never ran, so run it now
      const until = o.retryAfterMs ? now + o.retryAfterMs : null;
      this.store.transition('jobs', job.id, 'running', 'queued', { started_at: null, handle: null, deadline_at: null, backoff_until: until }, { at, attempt: job.attempt, runId: job.run_id });
      this.onQueued(job.group_id);
      if (until) setTimeout(() => { this.rebuildReady(); this.wake(); }, o.retryAfterMs! + 5).unref?.();
      return;
    }
    this.finishRunning(job, o.result, o.lostReason, at, now, o.outcome);
  }

  /** The executor restarted the job itself under the same handle (Slurm requeue): this attempt ends, the next
   *  one is running already (running → queued → running in one transaction; no new start, no slot change). */
  private requeueInPlace(job: JobRow, o: Extract<Observation, { state: 'requeued' }>, at: string, now: number): void {
    o.result?.commands.forEach((c, idx) => this.store.insertCommand({ job_id: job.id, attempt: job.attempt, idx, ...c }));
    this.store.finishAttempt({ job_id: job.id, attempt: job.attempt, status: 'failed', reason: o.reason, message: o.message, exit_code: null, ended_at: at });
    const next = job.attempt + 1;
    const back = { attempt: next, reason: o.reason, message: o.message, handle: JSON.stringify(o.handle), queued_at: at };
    if (!this.store.transition('jobs', job.id, 'running', 'queued', back, { at, attempt: job.attempt, runId: job.run_id })) return;
    const timeout = this.timeoutOf(job);
    this.store.transition('jobs', job.id, 'queued', 'running', { started_at: at, deadline_at: timeout ? now + timeout : null }, { at, attempt: next, runId: job.run_id });
    this.store.insertAttempt({ job_id: job.id, attempt: next, status: 'running', reason: null, message: null, exit_code: null, started_at: at, ended_at: null });
  }

  /**
   * The one finalization of an attempt: commands, status (or a retry), roll-up to stage/run/group.
   * Runs inside the caller's transaction; local exits and agent completions both end here.
   */
  finishRunning(job: JobRow, r: JobResult, lostReason: string | undefined, at: string, now: number, outcome?: ExitOutcome): void {
    r.commands.forEach((c, idx) => this.store.insertCommand({ job_id: job.id, attempt: job.attempt, idx, ...c }));
    let status: 'succeeded' | 'failed' | 'canceled';
    let reason: string | null = null;
    let message: string | null = null;
    if (job.stop_reason === 'canceled') { status = 'canceled'; reason = 'canceled'; message = 'canceled by request'; }
    else if (job.stop_reason === 'timeout') { status = 'failed'; reason = 'timeout'; message = `timed out after ${this.timeoutOf(job)} ms`; }
    else if (outcome) { status = outcome.status; reason = outcome.reason; message = outcome.message; }
    else if (r.rc === 0) status = 'succeeded';
    else if (r.rc === null) {
      status = 'failed'; reason = lostReason?.startsWith('spawn_failed') ? 'spawn_failed' : 'lost';
      message = lostReason ?? 'the job ended without reporting a result (killed from outside?)';
    } else {
      status = 'failed'; reason = 'exit_code';
      const failed = r.commands.findIndex((c) => c.exit_code !== null && c.exit_code !== 0);
      message = `command ${failed} exited with code ${r.rc}`;
    }
    if (this.secrets) { // what a job wrote, and errors quoting it, are stored redacted
      for (const k of Object.keys(r.outputs)) r.outputs[k] = this.secrets.redactText(r.outputs[k]!);
      if (message) message = this.secrets.redactText(message);
    }
    const patch = { ended_at: at, exit_code: r.rc, reason, message, outputs: JSON.stringify(r.outputs), lease_token: null };
    this.store.finishAttempt({ job_id: job.id, attempt: job.attempt, status, reason, message, exit_code: r.rc, ended_at: at });
    if (status === 'failed' && this.retry(job, reason!, message!, at, now)) return;
    if (!this.store.transition('jobs', job.id, 'running', status, patch, { at, attempt: job.attempt, runId: job.run_id })) return;
    rollUpStage(this.rollupCtx(at), job.stage_id);
  }

  retry(job: JobRow, reason: string, message: string, at: string, now: number): boolean {
    const spec = this.specOfRun(job.run_id);
    const policy = spec.stages[job.stage_idx]!.jobs[job.job_idx]!.retries ?? spec.retries;
    if (!RETRYABLE.has(reason)) return false;
    const lost = reason === 'lost';
    if (lost ? job.lost >= policy.lost : job.failures >= policy.max) return false;
    const budget = spec.retries.budget;
    if (budget !== undefined && this.store.retriesUsedByRun(job.run_id) >= budget) {
      this.log.info('run retry budget spent; not retrying', { jobId: job.id, runId: job.run_id, budget });
      return false;
    }
    const failures = job.failures + (lost ? 0 : 1);
    const until = now + backoffDelay(policy, failures + job.lost + (lost ? 1 : 0));
    const ok = this.store.transition('jobs', job.id, 'running', 'queued', {
      attempt: job.attempt + 1, failures, lost: job.lost + (lost ? 1 : 0), backoff_until: until, queued_at: at,
      reason, message: `${message}; retrying (attempt ${job.attempt + 1})`, handle: null, stop_reason: null, deadline_at: null, exit_code: null,
      lease_token: null, lease_expires_at: null,
    }, { at, attempt: job.attempt, runId: job.run_id });
    if (ok) {
      this.store.addBlockers(job.id, at, JSON.stringify([{ code: 'backoff_until', message: `retry backoff until ${isoNow(until)}`, until: isoNow(until) }]));
      this.onQueued(job.group_id);
      // capped: JS timers overflow past ~24.8 days; the 1 s tick re-checks backoffs anyway
      setTimeout(() => { this.rebuildReady(); this.wake(); }, Math.min(Math.max(0, until - now) + 5, 3_600_000)).unref?.();
    }
    return ok;
  }

  /**
   * One job's work inside a savepoint: a bug tripped by one row fails that job (reason internal)
   * and never stops the tick for the others. Storage errors still abort the whole tick.
   */
  private isolated<T>(jobId: string, at: string, fn: () => T): T | null {
    const mark = this.endedInTx.length;
    try {
      return this.store.tx(fn);
    } catch (err) {
      if (isStorageError(err)) throw err;
      for (const ex of this.endedInTx.splice(mark)) this.countStart(ex); // rolled back with the savepoint
      this.reaper.errors++;
      this.log.error('DroverInternal<tick-row> a job hit an internal error', { jobId, err: String(err), stack: (err as Error).stack });
      const cur = this.store.getJob(jobId);
      if (cur && (cur.status === 'queued' || cur.status === 'running')) {
        if (cur.status === 'running') this.countEnd(cur.executor, cur.id);
        else this.executors.get(cur.executor)?.release?.(cur.id); // it may have been admitted (GPUs) before failing
        this.store.transition('jobs', cur.id, cur.status, 'failed', { reason: 'internal', message: `internal error: ${String(err)}`, ended_at: at }, { at, attempt: cur.attempt, runId: cur.run_id });
        try { rollUpStage(this.rollupCtx(at), cur.stage_id); } catch { /* logged above */ }
      }
      return null;
    }
  }

  private recordHandle(h: { jobId: string; attempt: number; handle: Handle }): void {
    this.store.setJobFields(h.jobId, h.attempt, { handle: JSON.stringify(h.handle) });
    const job = this.store.getJob(h.jobId);
    if (job?.status === 'running' && job.attempt === h.attempt && job.stop_reason) this.cancels.push({ handle: h.handle });
  }

  // ---- step: start within limits ----

  private startWithinLimits(at: string, now: number, periodic: boolean): { prepared: PreparedJob; job: JobRow }[] {
    const starts: { prepared: PreparedJob; job: JobRow }[] = [];
    let ownQueueStarted = false;
    while (this.ready.size > 0 && (this.runningLimited < this.config.maxParallel || (!this.ownQueueIdle && this.ownQueueRoom()))) {
      const groupId = this.pickGroup();
      if (!groupId) break;
      if (this.store.getGroup(groupId)?.status !== 'running') { this.dropReady(groupId); continue; } // paused or ended
      const candidates = this.store.nextQueued(groupId, FIRST_WINDOW, now);
      let started: { prepared: PreparedJob; job: JobRow } | null | 'none' = 'none';
      for (const j of this.candidatesOf(groupId, candidates, now)) {
        if (j.executor === 'agent') continue; // only remote agents claim these
        if (this.executors.has(j.executor) && !this.hasSlot(j.executor)) continue;
        if (this.limited(j.executor) && this.runningLimited >= this.config.maxParallel) continue;
        if (this.heldByConcurrency(j, at)) continue;
        const admission = this.admit(j, at);
        if (admission === 'blocked') continue;
        started = admission === 'failed' ? null : this.isolated(j.id, at, () => this.startOne(j, at, now, admission));
        break;
      }
      if (started === 'none') {
        this.ready.delete(groupId); // nothing startable now; back when a slot frees (parked) or on rebuild
        if (candidates.length) this.parked.set(groupId, this.store.getGroup(groupId)?.priority ?? 0);
        continue;
      }
      const g = this.ready.get(groupId);
      if (g) g.served = ++this.servedCounter; // (the group may just have ended and left the ready set)
      if (started) starts.push(started);
      if (started && !this.limited(started.job.executor)) ownQueueStarted = true;
    }
    // a full pass found nothing for Slurm & co. while max_parallel was reached: skip such passes until new
    // work is queued or such a job ends (else every local completion would scan every waiting group)
    if (this.runningLimited >= this.config.maxParallel && !ownQueueStarted) this.ownQueueIdle = true;
    if (periodic && this.runningLimited >= this.config.maxParallel) this.noteLimitBlockers(at);
    if (this.ready.size === 0 && starts.length === 0) this.rebuildReadyLater();
    return starts;
  }

  /**
   * The queued jobs of a group to try, in order: a small window, and only when all of those were held
   * back (every GPU busy, agent-only…) a wider one, so held jobs never block the jobs queued behind them.
   */
  private *candidatesOf(groupId: string, first: JobRow[], now: number): Generator<JobRow> {
    yield* first;
    if (first.length === FIRST_WINDOW) yield* this.store.nextQueued(groupId, 1024, now).slice(FIRST_WINDOW);
  }

  private rebuildPending = false;
  private rebuildReadyLater(): void {
    if (this.rebuildPending) return;
    this.rebuildPending = true;
    setTimeout(() => { this.rebuildPending = false; this.rebuildReady(); if (this.ready.size) this.wake(); }, this.config.tickIntervalMs).unref?.();
  }

  /** Highest priority first; among equals, the group served longest ago (round-robin). */
  private pickGroup(): string | null {
    let best: string | null = null;
    let bp = -Infinity, bs = Infinity;
    for (const [id, g] of this.ready) {
      if (g.priority > bp || (g.priority === bp && g.served < bs)) { best = id; bp = g.priority; bs = g.served; }
    }
    return best;
  }

  /** `concurrency: N` in a spec: a run that has not started waits while N runs of its pipeline run. */
  private heldByConcurrency(job: JobRow, at: string): boolean {
    const run = this.store.getRun(job.run_id);
    if (!run || run.status !== 'queued') return false;
    // schedule `overlap: queue`: the run's trigger names the previous scheduled run; wait until it has ended
    const after = run.trigger.includes('"after"') ? (JSON.parse(run.trigger) as { after?: unknown }).after : undefined;
    const prev = typeof after === 'string' ? this.store.getRun(after) : null;
    if (prev && (prev.status === 'queued' || prev.status === 'running')) {
      this.noteBlocker(job, at, { code: 'previous_run', message: `waits for the previous scheduled run ${prev.id} (${prev.status}) to end (schedule overlap: queue)`, run: prev.id });
      return true;
    }
    const limit = this.spec(run.pipeline, run.pipeline_version).concurrency;
    if (!limit) return false;
    const running = this.store.countRunsWithStatus(run.pipeline, 'running');
    if (running < limit) return false;
    this.noteBlocker(job, at, { code: 'pipeline_concurrency', message: `pipeline '${run.pipeline}' allows ${limit} run(s) at once and ${running} are running`, limit, running });
    return true;
  }

  /** Record a blocker in the job's why-history once per change of `sig` (default: the blocker itself). */
  private noteBlocker(job: JobRow, at: string, blocker: Blocker, sig = JSON.stringify(blocker)): void {
    if (this.lastBlockerSig.get(job.id) === sig) return;
    this.lastBlockerSig.set(job.id, sig);
    this.store.addBlockers(job.id, at, JSON.stringify([blocker]));
  }

  /** Ask the job's executor to reserve what it needs; 'blocked' keeps it queued, 'failed' has failed it. */
  private admit(job: JobRow, at: string): Admission | 'blocked' | 'failed' | null {
    const ex = this.executors.get(job.executor);
    if (!ex?.admit) return null;
    const spec = this.specOfRun(job.run_id);
    const resources = spec.stages[job.stage_idx]!.jobs[job.job_idx]!.resources;
    const a = ex.admit({ jobId: job.id, attempt: job.attempt, resources });
    if (a.ok) return a;
    if (a.fail) {
      if (this.store.transition('jobs', job.id, 'queued', 'failed', { reason: a.blocker.code, message: a.blocker.message, ended_at: at }, { at, runId: job.run_id })) {
        rollUpStage(this.rollupCtx(at), job.stage_id);
      }
      return 'failed';
    }
    this.noteBlocker(job, at, a.blocker);
    return 'blocked';
  }

  /** Jobs of ownQueue executors (Slurm) wait in their batch system's queue, outside max_parallel. */
  limited(executor: string): boolean { return !this.executors.get(executor)?.capabilities.ownQueue; }
  private ownQueueIdle = false;
  private ownQueueRoom(): boolean {
    for (const [name, ex] of this.executors) if (ex.capabilities.ownQueue && this.hasSlot(name)) return true;
    return false;
  }

  private hasSlot(executor: string): boolean {
    return (this.running.get(executor) ?? 0) < (this.slots.get(executor) ?? 0);
  }

  /**
   * Start one queued job: checks, job folder, queued → running, roll-up. `lease` makes it a remote
   * agent's claim instead: a portable script, and a lease token + expiry instead of a local process.
   */
  startOne(job: JobRow, at: string, now: number, admission: Admission | null = null, lease?: { token: string; expiresAt: number }): { prepared: PreparedJob; job: JobRow } | null {
    const run = this.store.getRun(job.run_id)!;
    const ctx = this.rollupCtx(at);
    const granted = admission && admission.ok ? admission : null;
    const fail = (reason: string, message: string) => {
      if (granted) this.executors.get(job.executor)?.release?.(job.id);
      if (this.store.transition('jobs', job.id, 'queued', 'failed', { reason, message, ended_at: at }, { at, runId: job.run_id })) {
        this.log.warn('job failed before start', { jobId: job.id, reason, message });
        rollUpStage(ctx, job.stage_id);
      }
      return null;
    };
    if (!lease && !this.executors.has(job.executor)) return fail('executor_unavailable', `executor '${job.executor}' is not loaded in this server`);
    const spec = this.specOfRun(run.id);
    const stages = this.store.stagesOfRun(run.id);
    let inputs: Record<string, unknown> = {};
    const st = stages[job.stage_idx]!;
    const needs = JSON.parse(st.needs) as string[];
    if (needs.length) {
      const m = mergeInputs(stages.filter((s) => needs.includes(s.name)).map((s) => ({ stage: s.name, outputs: s.outputs ? JSON.parse(s.outputs) : {} })), st.merge as MergePolicy);
      if (m.ok) inputs = m.inputs;
    }
    let prepared: PreparedJob;
    try {
      prepared = prepareJob(job, run, spec, stages, inputs, { workspaceRoot: this.config.workspaceRoot, extraEnv: granted?.env, preamble: granted?.logLine, portable: !!lease, secrets: this.secrets, needs: needsDoc(this.store, stages, needs) });
      writeJobFiles(prepared);
    } catch (err) {
      if (err instanceof PrepareFailure) return fail(err.reason, err.message);
      if (granted) this.executors.get(job.executor)?.release?.(job.id);
      throw err; // storage trouble: abort the tick, nothing is committed
    }
    const deadline = prepared.timeoutMs ? now + prepared.timeoutMs : null;
    const device = granted?.device ? JSON.stringify(granted.device) : null;
    const leaseFields = lease ? { lease_token: lease.token, lease_expires_at: lease.expiresAt } : {};
    if (!this.store.transition('jobs', job.id, 'queued', 'running', { started_at: at, deadline_at: deadline, backoff_until: null, handle: null, device, ...leaseFields }, { at, attempt: job.attempt, runId: job.run_id })) {
      if (granted) this.executors.get(job.executor)?.release?.(job.id);
      return null;
    }
    this.store.insertAttempt({ job_id: job.id, attempt: job.attempt, status: 'running', reason: null, message: null, exit_code: null, started_at: at, ended_at: null });
    this.store.addBlockers(job.id, at, '[]');
    this.lastBlockerSig.delete(job.id);
    if (st.status === 'pending') this.store.transition('stages', st.id, 'pending', 'running', { started_at: at }, { at, runId: run.id });
    if (run.status === 'queued') this.store.transition('runs', run.id, 'queued', 'running', { started_at: at }, { at, runId: run.id });
    if (!lease) {
      this.countStart(job.executor); // agents' jobs run on their machines, outside max_parallel
      this.startedThisTick.push(job);
    }
    return { prepared, job };
  }

  /** Record (once per change) that the heads of waiting groups are held by max_parallel. */
  private noteLimitBlockers(at: string): void {
    for (const [groupId] of this.ready) {
      const head = this.store.nextQueued(groupId, 1, this.clock.now())[0];
      if (!head) continue;
      // signed by the limit alone: a history entry per change of the running count would be noise
      this.noteBlocker(head, at, { code: 'max_parallel', message: `${this.runningLimited} of ${this.config.maxParallel} parallel slots in use`, running: this.runningLimited, limit: this.config.maxParallel }, `max_parallel:${this.config.maxParallel}`);
    }
  }

  // ---- helpers shared with control.ts ----

  countStart(executor: string): void {
    this.running.set(executor, (this.running.get(executor) ?? 0) + 1); this.runningTotal++;
    if (this.limited(executor)) this.runningLimited++;
  }
  countEnd(executor: string, jobId?: string): void {
    if (jobId) {
      try { this.executors.get(executor)?.release?.(jobId); } catch (err) { this.log.warn('executor release failed', { jobId, err: String(err) }); }
    }
    this.endedInTx.push(executor);
    this.running.set(executor, Math.max(0, (this.running.get(executor) ?? 0) - 1));
    this.runningTotal = Math.max(0, this.runningTotal - 1);
    if (this.limited(executor)) this.runningLimited = Math.max(0, this.runningLimited - 1);
    else this.ownQueueIdle = false;
    for (const [g, priority] of this.parked) if (!this.ready.has(g)) this.ready.set(g, { priority, served: 0 });
    this.parked.clear();
  }

  logError(msg: string, data: Record<string, unknown>): void { this.log.error(msg, data); }
  logWarn(msg: string, data: Record<string, unknown>): void { this.log.warn(msg, data); }

  onQueued(groupId: string): void {
    this.ownQueueIdle = false;
    for (const l of this.queuedListeners) l();
    const g = this.store.getGroup(groupId);
    if (!g || g.status === 'paused') return;
    const cur = this.ready.get(groupId);
    if (!cur) this.ready.set(groupId, { priority: g.priority, served: 0 });
  }
  dropReady(groupId: string): void { this.ready.delete(groupId); this.parked.delete(groupId); }
  queueCancel(handle: Handle): void { this.cancels.push({ handle }); }

  rollupCtx(at: string): RollupCtx {
    return {
      store: this.store, at,
      onQueued: (g) => this.onQueued(g),
      onRunEnded: (r) => this.runsEnded.push(r),
      onGroupEnded: (g) => { this.canceledGroups.delete(g); this.ready.delete(g); },
      groupCanceled: (g) => this.canceledGroups.has(g),
    };
  }

  specOfRun(runId: string): PipelineSpec {
    const f = this.factsOf(runId);
    return this.spec(f.pipeline, f.version);
  }

  /** What never changes about a run (its folder, its pipeline version): read once, not per job and step. */
  private runFacts = new Map<string, { dir: string; pipeline: string; version: number }>();
  private factsOf(runId: string): { dir: string; pipeline: string; version: number } {
    let f = this.runFacts.get(runId);
    if (!f) {
      const run = this.store.getRun(runId);
      if (!run) throw new DroverError('not_found', `no run ${runId}`);
      f = { dir: run.dir, pipeline: run.pipeline, version: run.pipeline_version };
      if (this.runFacts.size >= 10_000) this.runFacts.clear();
      this.runFacts.set(runId, f);
    }
    return f;
  }

  /** How submitted specs are validated: the loaded executors, and their own checks of resources. */
  validateOptions(): ValidateOptions {
    return {
      executors: [...this.executors.keys(), 'agent'],
      checkResources: (executor, resources) => this.executors.get(executor)?.checkResources?.(resources) ?? null,
      maxJobPoints: this.config.maxSweep,
    };
  }

  spec(name: string, version: number): PipelineSpec {
    const key = `${name}@${version}`;
    let s = this.specs.get(key);
    if (!s) {
      const row = this.store.pipelineGet(name, version);
      if (!row) throw new DroverError('not_found', `pipeline ${key} is missing`);
      s = validateSpec(JSON.parse(row.spec), { executors: [...this.executors.keys(), 'agent'] });
      this.specs.set(key, s);
    }
    return s;
  }

  private timeoutOf(job: JobRow): number {
    const spec = this.specOfRun(job.run_id);
    return spec.stages[job.stage_idx]!.jobs[job.job_idx]!.timeout_ms ?? spec.timeout_ms ?? 0;
  }
  jobDir(job: JobRow): string { return join(this.factsOf(job.run_id).dir, 'jobs', job.id); }
  handleOf(job: JobRow): Handle {
    return job.handle ? JSON.parse(job.handle) : { executor: job.executor, dir: this.jobDir(job), commandCount: this.commandCount(job) };
  }
  commandCount(job: JobRow): number { return this.specOfRun(job.run_id).stages[job.stage_idx]!.jobs[job.job_idx]!.commands.length; }

  writeResult(runId: string): void {
    try {
      const run = this.store.getRun(runId) as RunRow;
      const body = runResult(this, run);
      const tmp = join(run.dir, '.result.json.tmp');
      const text = (this.secrets ? this.secrets.redactText(JSON.stringify(body, null, 2)) : JSON.stringify(body, null, 2)) + '\n';
      writeFileSync(tmp, text, { mode: 0o600 });
      renameSync(tmp, join(run.dir, 'result.json'));
      this.onResult?.(run, text);
    } catch (err) {
      this.log.warn('could not write result.json', { runId, err: String(err) });
    }
  }

  rollUpGroupNow(groupId: string, at: string) { rollUpGroup(this.rollupCtx(at), groupId); }
  rollUpStageNow(stageId: string, at: string) { rollUpStage(this.rollupCtx(at), stageId); }
  flushAfterCommit(): void { this.afterCommit(); }
}
