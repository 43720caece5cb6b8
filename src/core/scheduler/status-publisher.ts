// Status events reach the bus (WebSocket, triggers, costs) only after their transaction committed, in
// order and once each. A subscriber that commits in turn (cost rows) asks again from inside: the outer
// loop picks those events up instead of emitting anything twice.
import type { Store } from '../ports.ts';
import type { Bus } from '../events.ts';

export class StatusPublisher {
  private lastSeq = 0;
  private publishing = false;
  private again = false;

  constructor(private readonly store: Store, private readonly bus: Bus) {}

  /** Start after what is already in the database (those events were published by an earlier server). */
  start(): void { this.lastSeq = this.store.lastEventSeq(); }

  publish(): void {
    if (this.publishing) { this.again = true; return; }
    this.publishing = true;
    try {
      do {
        this.again = false;
        for (;;) {
          const evs = this.store.eventsSince(this.lastSeq, 1000);
          for (const e of evs) { this.lastSeq = e.seq; this.bus.emit('status', e); }
          if (evs.length) this.bus.emit('status:batch', evs);
          if (evs.length < 1000) break; // (a short page is the end: no second query per commit)
        }
      } while (this.again);
    } finally {
      this.publishing = false;
    }
  }
}
