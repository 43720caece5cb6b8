// Groups with queued work, in the order the scheduler serves them: highest priority first, then the
// group served longest ago (round-robin), and within a group FIFO (the store's order). A group whose
// queued jobs cannot start now is parked until a slot frees; memory only — rebuilt from the database.

export class ReadyQueue {
  private ready = new Map<string, { priority: number; served: number }>();
  private parked = new Map<string, number>();
  private served = 0;

  get size(): number { return this.ready.size; }
  has(groupId: string): boolean { return this.ready.has(groupId); }
  groups(): string[] { return [...this.ready.keys()]; }

  add(groupId: string, priority: number): void {
    if (!this.ready.has(groupId)) this.ready.set(groupId, { priority, served: 0 });
  }
  drop(groupId: string): void { this.ready.delete(groupId); this.parked.delete(groupId); }

  /** Nothing of the group can start now: out of the ready set until a slot frees (unpark). */
  park(groupId: string, priority: number | null): void {
    this.ready.delete(groupId);
    if (priority !== null) this.parked.set(groupId, priority);
  }
  /** A slot freed: parked groups may start again. */
  unpark(): void {
    for (const [g, priority] of this.parked) this.add(g, priority);
    this.parked.clear();
  }

  markServed(groupId: string): void {
    const g = this.ready.get(groupId);
    if (g) g.served = ++this.served;
  }

  pick(): string | null {
    let best: string | null = null;
    let bp = -Infinity, bs = Infinity;
    for (const [id, g] of this.ready) {
      if (g.priority > bp || (g.priority === bp && g.served < bs)) { best = id; bp = g.priority; bs = g.served; }
    }
    return best;
  }
}
