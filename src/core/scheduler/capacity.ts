// Each executor's capacity as its detect() reported it: slots, or why its backend is missing. A missing
// backend keeps its jobs queued (the executorDown gate: `executor_unavailable` in why) and is asked
// again every `redetectMs`, so a cluster that comes back is used without a restart.
import type { Executor } from '../ports.ts';

export class Capacities {
  private readonly slotCount = new Map<string, number>();
  /** executors whose detect() found their backend missing, with its reason */
  readonly unavailable = new Map<string, string>();
  private timer: ReturnType<typeof setInterval> | null = null;

  slots(executor: string): number { return this.slotCount.get(executor) ?? 0; }

  /** Ask one executor (a throw counts as unavailable, with its message). */
  async detect(name: string, ex: Executor): Promise<void> {
    const cap = await ex.detect().catch((e) => ({ available: false, slots: 0, reason: String((e as Error)?.message ?? e) }));
    const ok = !!cap?.available && Number.isFinite(cap.slots) && cap.slots > 0;
    this.slotCount.set(name, ok ? Math.floor(cap.slots) : 0);
    if (ok) this.unavailable.delete(name);
    else this.unavailable.set(name, cap?.reason ? String(cap.reason) : cap?.available ? 'it reports no slots' : 'its detect() says unavailable');
  }

  /** Re-ask the unavailable ones every `ms`; `changed` after each answer. */
  watch(executors: Map<string, Executor>, ms: number, changed: () => void): void {
    this.timer = setInterval(() => {
      for (const [name, ex] of executors) if (this.unavailable.has(name)) void this.detect(name, ex).then(changed);
    }, ms);
    this.timer.unref?.();
  }

  stop(): void { if (this.timer) clearInterval(this.timer); }
}
