// Starvation guard for GPU admission. Jobs asking for fewer GPUs may start in the gaps while a bigger
// one waits (backfill), but once a job has waited longer than `afterMs` it is first in line: no other
// job takes a GPU until it has started, so a 4-GPU job is never passed over for ever by a stream of
// 1-GPU jobs. Among waiters the one waiting longest goes first. A waiter that stops asking (canceled,
// its run ended) lapses after `staleMs` — the engine asks again at least every tick while it waits.
// Pure and synchronous (unit-tested); index.ts calls it from admit()/release().
export interface Waiter { jobId: string; since: number; requested: number }

export class StarvationGuard {
  private waits = new Map<string, { since: number; seen: number; requested: number }>();

  constructor(private readonly afterMs: number, private readonly staleMs = 10_000) {}

  /** `jobId` was refused GPUs now (its wait starts at its first refusal). */
  waited(jobId: string, requested: number, now: number): void {
    const w = this.waits.get(jobId);
    if (w) { w.seen = now; w.requested = requested; } else this.waits.set(jobId, { since: now, seen: now, requested });
  }

  /** `jobId` got its GPUs, or left. */
  done(jobId: string): void { this.waits.delete(jobId); }

  /** The starving job the GPUs are held for, when it is not `jobId`; else null. */
  reservedFor(jobId: string, now: number): Waiter | null {
    let best: Waiter | null = null;
    for (const [id, w] of this.waits) {
      if (now - w.seen > this.staleMs) { this.waits.delete(id); continue; }
      if (now - w.since < this.afterMs) continue;
      if (!best || w.since < best.since) best = { jobId: id, since: w.since, requested: w.requested };
    }
    return best && best.jobId !== jobId ? best : null;
  }

  get size(): number { return this.waits.size; }
}
