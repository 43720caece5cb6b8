// Status events reach the bus (WebSocket, triggers, costs) only after their transaction committed, in
// order and once each. A subscriber that commits in turn (cost rows) asks again from inside: the outer
// loop picks those events up instead of emitting anything twice. The events come from the store's
// memory of what this process committed; the table is read only where that memory does not follow on
// from the last event published (another process wrote some, or the memory overflowed).
import type { Store } from '../ports.ts';
import type { StatusEvent } from '../types.ts';
import type { Bus } from '../events.ts';

/** each event is the one after the one before it (an empty list follows anything) */
function follows(evs: StatusEvent[], seq: number): boolean {
  for (const e of evs) { if (e.seq !== seq + 1) return false; seq = e.seq; }
  return true;
}

export class StatusPublisher {
  private lastSeq = 0;
  private publishing = false;
  private again = false;

  constructor(private readonly store: Store, private readonly bus: Bus) {}

  /** Start after what is already in the database (those events were published by an earlier server). */
  start(): void { this.lastSeq = this.store.lastEventSeq(); }

  private emit(evs: StatusEvent[]): void {
    for (const e of evs) { this.lastSeq = e.seq; this.bus.emit('status', e); }
    if (evs.length) this.bus.emit('status:batch', evs);
  }

  publish(): void {
    if (this.publishing) { this.again = true; return; }
    this.publishing = true;
    try {
      do {
        this.again = false;
        const mem = this.store.takeCommittedEvents();
        if (mem && follows(mem, this.lastSeq)) { this.emit(mem); continue; }
        for (;;) {
          const evs = this.store.eventsSince(this.lastSeq, 1000);
          this.emit(evs);
          if (evs.length < 1000) break; // (a short page is the end: no second query per commit)
        }
      } while (this.again);
    } finally {
      this.publishing = false;
    }
  }
}
