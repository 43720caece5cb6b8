// The reaper: the engine's periodic pass runs it inside the tick's transaction, one savepoint per row
// (one bad row never stops the tick). Three tiers:
//   (a) leases past expiry → the attempt is lost (retried while retries.lost allows, else failed `lost`);
//   (b) ends whose finalization stalled: a live finalizer (its marker renewed, or still at work in this
//       process) is deferred to however long it takes — finalizing twice is what caused false rollbacks
//       in the field; a dead one (the marker lapsed) is taken over with a new token and the end is read
//       afresh from the job's files; the old finalizer, should it come back, is refused (finalize.ts);
//   (c) a backstop on total running time, for a process that will not die, an agent that never comes
//       back, or a stuck finalizer (it ignores the marker).
// Plus deadlines: running jobs past their timeout get TERM (KILL after a grace).
import { isoNow } from '../ids.ts';
import { lostEnd } from '../observations.ts';
import { rollUpStage, type RollupCtx } from './rollup.ts';
import type { Store, Executor, Logger, Observation, Handle } from '../ports.ts';
import type { JobRow } from '../types.ts';
import type { EngineConfig } from '../config.ts';
import type { SpecCatalog } from './spec-catalog.ts';
import type { TxEffects } from './tx-effects.ts';
import type { LogGate } from '../redact/pool.ts';
import { newFinalToken, type Finalizers } from './finalize.ts';

/** reaped: leases expired (tier a); reaped_finalizer: stalled finalizations taken over (tier b);
 *  deferred: a live finalizer still owned a job past the grace; backstop: tier (c); fenced: late or
 *  repeated reports of an end refused; errors: rows that hit an internal error */
export type ReaperCounters = { reaped: number; reaped_finalizer: number; deferred: number; backstop: number; fenced: number; errors: number };

/** What the reaper needs of the engine. */
export interface ReaperHost {
  store: Store; config: EngineConfig; log: Logger; finals: Finalizers; executors: Map<string, Executor>; logGate?: LogGate; catalog: SpecCatalog;
  now(): number;
  /** `fn` in its own savepoint; an internal error fails that job only */
  isolated<T>(jobId: string, at: string, fn: () => T): T | null;
  retry(job: JobRow, reason: string, message: string, at: string, now: number): boolean;
  rollupCtx(at: string): RollupCtx;
  /** the job no longer runs here: its slot (if it holds one) frees */
  freeSlot(job: JobRow): void;
  /** the transaction's effects buffer: cancels and work for after the commit (dropped on rollback) */
  effects(): TxEffects;
  /** a transaction of its own (after a commit: the takeover's release) */
  transact<T>(fn: () => T): T;
  /** an observation for the next tick */
  deliver(o: Observation): void;
  /** a better handle to record, as for a re-adopted job */
  recordHandleLater(h: { jobId: string; attempt: number; handle: Handle }): void;
}

export class Reaper {
  constructor(private readonly h: ReaperHost, readonly counts: ReaperCounters) {}

  /** One periodic pass, inside the tick's transaction. */
  pass(now: number, at: string): void {
    this.reapLeases(now, at);
    this.h.finals.renew(this.h.store, now);
    this.reapFinalizations(now, at);
    const running = this.h.store.jobsWithStatus('running'); // one read serves deadlines and the backstop
    this.enforceDeadlines(now, running);
    this.backstop(now, at, running);
  }

  private reapLeases(now: number, at: string): void {
    const { store } = this.h;
    for (const job of store.expiredLeases(now)) {
      this.h.isolated(job.id, at, () => {
        const msg = `lease expired at ${isoNow(job.lease_expires_at!)} (no heartbeat from the agent)`;
        store.finishAttempt({ job_id: job.id, attempt: job.attempt, status: 'failed', reason: 'lost', message: msg, exit_code: null, started_at: job.started_at, ended_at: at });
        if (!this.h.retry(job, 'lost', msg, at, now)) {
          if (store.transition('jobs', job.id, 'running', 'failed', { reason: 'lost', message: msg, ended_at: at, lease_token: null, lease_expires_at: null }, { at, attempt: job.attempt, runId: job.run_id })) {
            rollUpStage(this.h.rollupCtx(at), job.stage_id);
          }
        }
        this.counts.reaped++;
      });
    }
  }

  private reapFinalizations(now: number, at: string): void {
    const { store, config, finals } = this.h;
    for (const job of store.stalledFinalizations(now - config.finalizeGraceMs)) {
      // live: its marker is renewed, or this very process is still working on it (memory knows more than the row)
      if ((job.final_until ?? 0) >= now || finals.holds(job.id, job.final_token!)) { this.counts.deferred++; continue; }
      this.h.isolated(job.id, at, () => {
        const token = newFinalToken();
        if (!store.takeOverFinalizer(job.id, job.final_token!, token, now, now + config.finalizeGraceMs)) return;
        this.h.log.warn('reaper: a finalization stalled without an owner; finalizing it again from the job files', { jobId: job.id, attempt: job.attempt, since: isoNow(job.final_since!) });
        this.counts.reaped_finalizer++;
        this.h.effects().afterCommit(() => this.reobserve(job, token));
      });
    }
  }

  /** After a takeover: observe the job's end again (the runner's files hold it) and finalize under `token`. */
  private reobserve(job: JobRow, token: string): void {
    const h = this.h;
    const lost = (why: string) => lostEnd(job.id, job.attempt, why, token);
    h.finals.takenOver(job, token, h.now() + h.config.finalizeGraceMs);
    let seen: Promise<Observation>;
    try {
      const spec = h.catalog.specOfRun(job.run_id);
      if (spec.secrets.length) h.logGate?.resume?.([{ jobId: job.id, attempt: job.attempt, dir: h.catalog.jobDir(job), commandCount: h.catalog.commandCount(job), secretNames: spec.secrets }]);
      const ex = h.executors.get(job.executor);
      const handle = h.catalog.handleOf(job);
      seen = ex?.adopt ? ex.adopt(job.id, job.attempt, handle).catch((e) => lost(String(e))) : Promise.resolve(lost(`executor '${job.executor}' cannot read the job's end`));
    } catch (err) {
      seen = Promise.resolve(lost(`could not read the job's end again: ${String(err)}`));
    }
    seen.then((o) => {
      if (o.state !== 'running') { o.finalToken = token; h.deliver(o); return; }
      // the executor cannot tell the end from its files (Slurm asks its queue): hand the job back to its
      // own observation — marker and entry released, a better handle recorded like a re-adopted job's
      h.log.warn('reaper: the executor reports the job running; its own observation will end it', { jobId: job.id });
      h.finals.release(job.id, token);
      try { h.transact(() => h.store.releaseFinalizer(job.id, token)); } catch (err) { h.log.warn('could not release a finalization marker', { jobId: job.id, err: String(err) }); }
      if (o.handle) h.recordHandleLater({ jobId: job.id, attempt: job.attempt, handle: o.handle });
    });
  }

  private backstop(now: number, at: string, running: JobRow[]): void {
    const { store, config } = this.h;
    for (const job of running) {
      const limit = job.deadline_at !== null ? job.deadline_at + 3 * config.killGraceMs + 60_000 : Date.parse(job.started_at ?? at) + config.backstopMs;
      if (now <= limit) continue;
      this.h.isolated(job.id, at, () => {
        if (job.handle) this.h.effects().cancel(JSON.parse(job.handle));
        this.h.freeSlot(job); // (an agent's job holds no slot)
        const msg = `still running past the backstop (${isoNow(limit)}); killed and failed`;
        store.finishAttempt({ job_id: job.id, attempt: job.attempt, status: 'failed', reason: 'backstop', message: msg, exit_code: null, started_at: job.started_at, ended_at: at });
        if (store.transition('jobs', job.id, 'running', 'failed', { reason: 'backstop', message: msg, ended_at: at, lease_token: null }, { at, attempt: job.attempt, runId: job.run_id })) {
          rollUpStage(this.h.rollupCtx(at), job.stage_id);
        }
        // its end may never be observed (no longer polled): finish its log now
        this.h.effects().afterCommit(() => this.h.logGate?.finish?.(job.id, job.attempt));
        this.counts.backstop++;
      });
    }
  }

  private enforceDeadlines(now: number, running: JobRow[]): void {
    for (const job of running) {
      if (job.deadline_at === null || job.deadline_at > now || job.stop_reason) continue;
      this.h.store.setJobFields(job.id, job.attempt, { stop_reason: 'timeout' });
      if (job.handle) this.h.effects().cancel(JSON.parse(job.handle));
      this.h.log.info('job timed out', { jobId: job.id });
    }
  }
}
