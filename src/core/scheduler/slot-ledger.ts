// The slot ledger: which jobs hold a slot of which executor, the ONLY source of running counts.
// Counts are kept by hold/free alone (never set by hand) and every change is journaled, so a rolled-back
// transaction or savepoint puts the ledger back exactly as it was. Jobs of remote agents hold no slot
// (they run on the agents' machines), so nothing done to a leased job can move these counts.

export interface Slot { executor: string; /** counts toward max_parallel (not an ownQueue executor like Slurm) */ limited: boolean; since: number }

type Entry = { op: 'hold' | 'free'; jobId: string; slot: Slot };

export class SlotLedger {
  private held = new Map<string, Slot>();
  private perExecutor = new Map<string, number>();
  private limitedCount = 0;
  private journal: Entry[] = [];

  hold(jobId: string, slot: Slot): void {
    if (this.held.has(jobId)) return;
    this.apply(jobId, slot, +1);
    this.journal.push({ op: 'hold', jobId, slot });
  }

  /** Free the job's slot; returns what it held (undefined: it held none, e.g. an agent's job). */
  free(jobId: string): Slot | undefined {
    const slot = this.held.get(jobId);
    if (!slot) return undefined;
    this.apply(jobId, slot, -1);
    this.journal.push({ op: 'free', jobId, slot });
    return slot;
  }

  has(jobId: string): boolean { return this.held.has(jobId); }
  running(executor: string): number { return this.perExecutor.get(executor) ?? 0; }
  get limited(): number { return this.limitedCount; }
  get total(): number { return this.held.size; }
  jobIds(): string[] { return [...this.held.keys()]; }
  entries(): [string, Slot][] { return [...this.held.entries()]; }

  /** A point to roll back to (a transaction or savepoint begins). */
  mark(): number { return this.journal.length; }
  rollbackTo(mark: number): void {
    for (const e of this.journal.splice(mark).reverse()) this.apply(e.jobId, e.slot, e.op === 'hold' ? -1 : +1);
  }
  /** The outermost transaction committed: nothing left to undo. */
  commit(): void { this.journal.length = 0; }

  /** Recount from the entries: equal to the kept counts unless a bug slipped past hold/free. */
  audit(): string | null {
    const per = new Map<string, number>();
    let limited = 0;
    for (const s of this.held.values()) { per.set(s.executor, (per.get(s.executor) ?? 0) + 1); if (s.limited) limited++; }
    if (limited !== this.limitedCount) return `limited count ${this.limitedCount} != ${limited} held`;
    for (const [ex, n] of this.perExecutor) if ((per.get(ex) ?? 0) !== n) return `executor ${ex} count ${n} != ${per.get(ex) ?? 0} held`;
    return null;
  }

  private apply(jobId: string, slot: Slot, d: 1 | -1): void {
    if (d > 0) this.held.set(jobId, slot); else this.held.delete(jobId);
    this.perExecutor.set(slot.executor, (this.perExecutor.get(slot.executor) ?? 0) + d);
    if (slot.limited) this.limitedCount += d;
  }
}
