// A queued job's why-history: a blocker is recorded once per change, not once per scheduler pass, so
// a job held for hours by the same limit keeps one history row, not thousands.
import type { Blocker, Store } from '../ports.ts';
import type { JobRow } from '../types.ts';

export class BlockerLog {
  private readonly lastSig = new Map<string, string>();
  constructor(private readonly store: Pick<Store, 'addBlockers'>) {}

  /** Record `blocker` unless the last one recorded for the job had the same `sig` (default: the blocker itself). */
  note(job: JobRow, at: string, blocker: Blocker, sig = JSON.stringify(blocker)): void {
    if (this.lastSig.get(job.id) === sig) return;
    this.lastSig.set(job.id, sig);
    this.store.addBlockers(job.id, at, JSON.stringify([blocker]));
  }

  /** The job started (or left the queue): its next blocker is a change again. */
  forget(jobId: string): void { this.lastSig.delete(jobId); }
}
