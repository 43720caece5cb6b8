// The status events of this process: written to status_events once per transaction, in one statement
// just before the commit (not one INSERT per status change), and kept in memory so the publisher hands
// committed events to the bus without reading them back. Events of a transaction wait in `pending`
// (no seq yet); a rollback of the transaction or of one savepoint drops its own; the outermost level
// inserts them all and they reach `committed` once the commit succeeded. The publisher still checks
// that what it takes follows the last event it published (seq + 1), and reads the table whenever it
// does not (another process wrote events, or the buffer overflowed with nobody taking from it).
import type { StatusEvent } from '../core/types.ts';

export type NewEvent = Omit<StatusEvent, 'seq'>;

const CAP = 10_000;

export class EventBuffer {
  private pending: NewEvent[] = [];
  private written: StatusEvent[] = [];
  private committed: StatusEvent[] = [];
  private depth = 0;
  /** set when events were dropped: the next take must read the table */
  overflowed = false;

  /** `insert` writes events in order and returns their seqs; `insertOnly` writes them and returns nothing */
  constructor(private readonly insert: (evs: NewEvent[]) => number[], private readonly insertOnly: (evs: NewEvent[]) => void = (evs) => { insert(evs); }) {}
  /** the outermost transaction wrote more events than memory keeps: readers go to the table */
  private tooMany = false;

  add(e: NewEvent): void {
    if (this.depth > 0) { this.pending.push(e); return; }
    this.keep(this.sequence([e])); // (no transaction: written and committed at once)
  }

  /** Runs `fn` as one transaction level; `fn` calls flush() as the last thing inside the outermost one. */
  within<T>(fn: () => T): T {
    const mark = this.pending.length;
    this.depth++;
    try {
      const out = fn();
      this.depth--;
      if (this.depth === 0) {
        if (this.tooMany) { this.committed = []; this.overflowed = true; } else this.keep(this.written);
        this.written = []; this.tooMany = false;
      }
      return out;
    } catch (err) {
      this.depth--;
      this.pending.length = mark;
      if (this.depth === 0) { this.written = []; this.tooMany = false; }
      throw err;
    }
  }

  /** Inside the outermost transaction, just before its commit: write what it changed, in one go. */
  flush(): void {
    if (this.depth !== 1 || this.pending.length === 0) return;
    const evs = this.pending;
    this.pending = [];
    // more than memory would keep (a 100,000-run sweep): written without reading their seqs back,
    // and without an object per event that keep() would drop at once
    if (evs.length > CAP) { this.insertOnly(evs); this.tooMany = true; return; }
    this.written = this.sequence(evs);
  }

  /** Committed events in seq order, emptied; the caller checks continuity. */
  take(): StatusEvent[] {
    const out = this.committed;
    this.committed = [];
    return out;
  }

  private sequence(evs: NewEvent[]): StatusEvent[] {
    const seqs = this.insert(evs);
    return evs.map((e, i) => ({ seq: seqs[i]!, ...e }));
  }

  private keep(evs: StatusEvent[]): void {
    if (this.committed.length + evs.length > CAP) { this.committed = []; this.overflowed = true; return; }
    for (const e of evs) this.committed.push(e);
  }
}
