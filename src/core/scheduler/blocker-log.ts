// A queued job's why-history: a blocker is recorded once per change, not once per scheduler pass, so
// a job held for hours by the same limit keeps one history row, not thousands.
import type { Blocker, Store } from '../ports.ts';
import type { JobRow } from '../types.ts';
import type { TxEffects } from './tx-effects.ts';

export class BlockerLog {
  private readonly lastSig = new Map<string, string>();
  /** more current blockers of a queued job for `why`, from parts outside the scheduler (allocation queues) */
  readonly sources: ((job: JobRow) => Blocker[])[] = [];
  /** jobs queued before this process started may have an open history from an earlier server */
  private readonly since = new Date().toISOString();
  constructor(private readonly store: Pick<Store, 'addBlockers'>, private readonly effects: () => TxEffects) {}

  /** Record `blocker` unless the last one recorded for the job had the same `sig` (default: the blocker itself). */
  note(job: JobRow, at: string, blocker: Blocker, sig = JSON.stringify(blocker)): void {
    const prev = this.lastSig.get(job.id);
    if (prev === sig) return;
    this.store.addBlockers(job.id, at, JSON.stringify([blocker]));
    this.lastSig.set(job.id, sig);
    // a rolled-back row is not recorded: the next pass must write it again
    this.effects().onRollback(() => { if (prev === undefined) this.lastSig.delete(job.id); else this.lastSig.set(job.id, prev); });
  }

  /** The job started: its history ends with an empty entry when a blocker may still be open in it (one
   *  noted here, a retry backoff, or an earlier server's); a job that never waited gets no row. */
  started(job: JobRow, at: string): void {
    const prev = this.lastSig.get(job.id);
    if (prev !== undefined || job.backoff_until !== null || (job.queued_at ?? '') < this.since) this.store.addBlockers(job.id, at, '[]');
    if (prev === undefined) return;
    this.lastSig.delete(job.id);
    this.effects().onRollback(() => this.lastSig.set(job.id, prev));
  }
}
