// What a transaction wants done once it has committed: executor starts and cancels, result files of
// runs that ended, events to publish, resources to give back. Nothing here runs before the commit, and
// a rollback drops it all (running the undo list instead), so no effect ever outlives the rows that
// caused it. A savepoint gets its own buffer, folded into its parent's when it is released.
import type { Handle, PreparedJob } from '../ports.ts';
import type { JobRow } from '../types.ts';

export interface Start { prepared: PreparedJob; job: JobRow }

export class TxEffects {
  readonly starts: Start[] = [];
  readonly cancels: Handle[] = [];
  readonly runsEnded: string[] = [];
  /** groups that got queued jobs (the agent broker's long-polls wake) */
  readonly queuedGroups: string[] = [];
  /** executor reservations to give back (jobs no longer running) */
  readonly releases: { executor: string; jobId: string }[] = [];
  readonly after: (() => void)[] = [];
  /** undo work done eagerly in the transaction (reservations taken by admit) */
  readonly undo: (() => void)[] = [];

  start(s: Start): void { this.starts.push(s); }
  cancel(handle: Handle): void { this.cancels.push(handle); }
  runEnded(runId: string): void { this.runsEnded.push(runId); }
  queued(groupId: string): void { this.queuedGroups.push(groupId); }
  release(executor: string, jobId: string): void { this.releases.push({ executor, jobId }); }
  afterCommit(fn: () => void): void { this.after.push(fn); }
  onRollback(fn: () => void): void { this.undo.push(fn); }

  get empty(): boolean {
    return !this.starts.length && !this.cancels.length && !this.runsEnded.length && !this.queuedGroups.length && !this.releases.length && !this.after.length;
  }

  /** A released savepoint: its effects become the parent's (they still wait for the outer commit). */
  foldInto(parent: TxEffects): void {
    parent.starts.push(...this.starts); parent.cancels.push(...this.cancels); parent.runsEnded.push(...this.runsEnded);
    parent.queuedGroups.push(...this.queuedGroups); parent.releases.push(...this.releases);
    parent.after.push(...this.after); parent.undo.push(...this.undo);
  }

  /** Rolled back: undo the eager work, newest first. */
  rollBack(): void {
    for (const fn of this.undo.splice(0).reverse()) fn();
  }
}
