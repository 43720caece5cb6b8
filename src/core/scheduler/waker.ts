// When the engine ticks: wake-ups (submits, completions, resumes) coalesce into one tick; a short window
// lets completions that land together share one commit (one fsync); a steady interval ticks anyway.
export class Waker {
  private scheduled = false;
  private timer: ReturnType<typeof setInterval> | null = null;
  private stopped = false;

  constructor(private readonly tick: () => void, private readonly o: { intervalMs: number; batchWindowMs: number; pending: () => boolean }) {}

  start(): void { this.timer = setInterval(() => this.wake(), this.o.intervalMs); this.wake(); }
  stop(): void { this.stopped = true; if (this.timer) clearInterval(this.timer); }

  wake(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    const run = () => { this.scheduled = false; this.tick(); };
    if (this.o.batchWindowMs > 0 && this.o.pending()) setTimeout(run, this.o.batchWindowMs);
    else setImmediate(run);
  }

  /** Call `fn` at `after` ms from now; capped: JS timers overflow past ~24.8 days, and the interval re-checks anyway. */
  later(afterMs: number, fn: () => void): void {
    if (this.stopped) return;
    setTimeout(() => { if (!this.stopped) fn(); }, Math.min(Math.max(0, afterMs) + 5, 3_600_000)).unref?.();
  }
}
