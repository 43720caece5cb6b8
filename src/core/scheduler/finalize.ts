// Finalization ownership. Most ends are applied inside the tick that observes them: one transaction
// is its own owner. An end that must wait (the job's redacted log is still draining, or a failpoint
// stalls it) is owned by a marker in the job row — token, since, until — that its finalizer takes in
// the next commit, renews while it works, and releases by applying the end (any transition out of
// `running` clears it). An end is applied only by the holder of the marker: a second report of the
// same exit (a Slurm poll, a re-adoption) is dropped, and a finalizer that comes back after the
// reaper took its job over (tier b) or the backstop failed it is refused — never a second finalization.
import { randomBytes } from 'node:crypto';
import type { Store, Observation, Logger } from '../ports.ts';
import type { JobRow } from '../types.ts';
import type { LogGate } from '../redact/pool.ts';
import type { Failpoints } from '../failpoints.ts';

type Ended = Exclude<Observation, { state: 'running' }>;
interface Inflight { jobId: string; attempt: number; token: string; until: number; fenced: boolean }

/** A finalizer's token: the marker's owner, unguessable, new per finalization and per takeover. */
export const newFinalToken = (): string => randomBytes(12).toString('hex');

export interface FinalizerDeps {
  gate?: LogGate;
  failpoints?: Failpoints;
  /** how long a marker holds without renewal, and how long an end may take before the reaper looks */
  graceMs: number;
  /** an end whose wait is over, back to the engine (applied in its next tick) */
  resume(o: Observation): void;
  log: Logger;
}

export class Finalizers {
  private inflight = new Map<string, Inflight>();
  private toClaim: Inflight[] = [];
  private claimedThisTick: Inflight[] = [];
  /** renewals written in this tick's transaction, with the expiry they replaced (a rollback restores it) */
  private renewedThisTick: { e: Inflight; until: number }[] = [];
  private ready = new WeakSet<Observation>();

  constructor(private readonly d: FinalizerDeps) {}

  get active(): number { return this.inflight.size; }

  /** 'now': apply in this tick; 'later': a finalizer owns it and resumes it; 'drop': a repeat of an end in flight. */
  offer(o: Observation, now: number): 'now' | 'later' | 'drop' {
    if (o.state === 'running' || this.ready.has(o)) return 'now';
    const cur = this.inflight.get(o.jobId);
    if (cur && !cur.fenced && cur.attempt === o.attempt && cur.token !== o.finalToken) return 'drop';
    const stall = this.d.failpoints?.has('finalize') ?? false;
    let drained = false;
    let onDrained: (() => void) | null = null;
    const held = this.d.gate ? !this.d.gate.pass(o, () => { drained = true; onDrained?.(); }) : false;
    if (!held && !stall) {
      if (cur && cur.token === o.finalToken) this.inflight.delete(o.jobId); // the reaper's own re-observation
      return 'now';
    }
    const entry: Inflight = { jobId: o.jobId, attempt: o.attempt, token: o.finalToken ?? newFinalToken(), until: now + this.d.graceMs, fenced: false };
    this.inflight.set(o.jobId, entry);
    this.toClaim.push(entry);
    const wait = held && !drained ? new Promise<void>((r) => { onDrained = r; }) : Promise.resolve();
    wait.then(() => (stall ? this.d.failpoints!.hit('finalize') : undefined)).then(() => {
      if (this.inflight.get(o.jobId) === entry) this.inflight.delete(o.jobId);
      (o as Ended).finalToken = entry.token;
      this.ready.add(o);
      this.d.resume(o);
    });
    return 'later';
  }

  /** In the tick's transaction: markers for the finalizations begun since the last commit. */
  claim(store: Store, now: number): void {
    for (const e of this.toClaim.splice(0)) {
      this.claimedThisTick.push(e);
      if (!store.claimFinalizer(e.jobId, e.attempt, e.token, now, e.until)) {
        e.fenced = true; // ended meanwhile, or another live owner: its result will be refused
        this.d.log.warn('a finalizer could not take its job (ended meanwhile, or owned by another)', { jobId: e.jobId, attempt: e.attempt });
      }
    }
  }

  /** The tick committed / was rolled back: claims of a failed tick are made again in the next one. */
  committed(): void { this.claimedThisTick = []; this.renewedThisTick = []; }
  rolledBack(): void {
    const back = this.claimedThisTick.splice(0);
    for (const e of back) e.fenced = false;
    this.toClaim.unshift(...back);
    // the marker in the DB still has its old expiry: renew again at the next chance
    for (const r of this.renewedThisTick.splice(0)) r.e.until = r.until;
  }

  /** Periodic, in the tick's transaction: live finalizers keep their markers (renewed at half-life). */
  renew(store: Store, now: number): void {
    for (const e of this.inflight.values()) {
      if (e.fenced || e.until - now > this.d.graceMs / 2 || this.toClaim.includes(e)) continue;
      const until = now + this.d.graceMs;
      if (store.renewFinalizer(e.jobId, e.token, until)) {
        this.renewedThisTick.push({ e, until: e.until });
        e.until = until;
      } else {
        e.fenced = true; // the reaper or the backstop has the job now: whatever it reports is refused
        if (this.inflight.get(e.jobId) === e) this.inflight.delete(e.jobId);
      }
    }
  }

  /** Whether this process's live finalizer holds `token` for the job (then the reaper must not take it). */
  holds(jobId: string, token: string): boolean {
    const e = this.inflight.get(jobId);
    return !!e && !e.fenced && e.token === token;
  }

  /** A takeover found the job still running after all: its marker is gone, forget the entry too. */
  release(jobId: string, token: string): void {
    if (this.inflight.get(jobId)?.token === token) this.inflight.delete(jobId);
  }

  /** The reaper took the job over with `token`: its own finalization of the job is the one in flight. */
  takenOver(job: JobRow, token: string, until: number): void {
    const old = this.inflight.get(job.id);
    if (old) old.fenced = true;
    this.inflight.set(job.id, { jobId: job.id, attempt: job.attempt, token, until, fenced: false });
  }

  /** Whether `o` may be applied to `job`: only by the marker's holder (none: only an unmarked report). */
  owns(job: JobRow, o: Ended): boolean {
    return (job.final_token ?? undefined) === o.finalToken;
  }
}
