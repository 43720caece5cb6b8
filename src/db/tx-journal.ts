// What a transaction level changed in memory, so a rollback or savepoint can put it back exactly.
// The kept counts (job-counts.ts, run-counts.ts) record their changes here; a level that throws undoes
// its own entries, newest first, and the outermost level that returns forgets them (committed).

export class TxJournal<E> {
  private entries: E[] = [];
  private depth = 0;

  constructor(private readonly undo: (e: E) => void) {}

  /** Note a change; outside a transaction there is nothing to undo. */
  record(e: E): void { if (this.depth > 0) this.entries.push(e); }
  clear(): void { this.entries = []; }

  /** Runs `fn` as one transaction level: what it recorded is undone if it throws. */
  within<T>(fn: () => T): T {
    const mark = this.entries.length;
    this.depth++;
    try {
      const out = fn();
      this.depth--;
      if (this.depth === 0) this.entries = [];
      return out;
    } catch (err) {
      this.depth--;
      for (const e of this.entries.splice(mark).reverse()) this.undo(e);
      throw err;
    }
  }
}
