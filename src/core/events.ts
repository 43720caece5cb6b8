// An in-process event bus; a failing subscriber is logged and never breaks the core (safeEmit).
import type { StatusEvent } from './types.ts';
import type { Logger } from './ports.ts';

export interface DroverEventMap {
  status: StatusEvent;
  /** the same events again, one page at a time after each was emitted (readers that batch their queries) */
  'status:batch': readonly StatusEvent[];
  'log:append': { jobId: string; command: number };
}

export class Bus {
  private subs = new Map<string, Set<(p: never) => void>>();
  constructor(private log: Logger) {}
  on<K extends keyof DroverEventMap>(kind: K, fn: (p: DroverEventMap[K]) => void): () => void {
    let set = this.subs.get(kind);
    if (!set) this.subs.set(kind, (set = new Set()));
    set.add(fn as (p: never) => void);
    return () => set.delete(fn as (p: never) => void);
  }
  emit<K extends keyof DroverEventMap>(kind: K, payload: DroverEventMap[K]): void {
    for (const fn of (this.subs.get(kind) ?? []) as Set<(p: DroverEventMap[K]) => void>) {
      try { fn(payload); } catch (err) { this.log.error('event subscriber failed', { kind, err: String(err) }); }
    }
  }
}
