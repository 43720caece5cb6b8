// When the engine ticks: wake-ups (submits, completions, resumes) coalesce into one tick; a short window
// lets completions that land together share one commit (one fsync); a steady interval ticks anyway.
export class Waker {
  private scheduled = false;
  private timer: ReturnType<typeof setInterval> | null = null;
  private stopped = false;
  private lazy: ReturnType<typeof setTimeout> | null = null;

  constructor(private readonly tick: () => void, private readonly o: { intervalMs: number; batchWindowMs: number; pending: () => boolean }) {}

  start(): void { this.timer = setInterval(() => this.wake(), this.o.intervalMs); this.wake(); }
  stop(): void { this.stopped = true; if (this.timer) clearInterval(this.timer); if (this.lazy) clearTimeout(this.lazy); }

  wake(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    const run = () => {
      this.scheduled = false;
      if (this.lazy) { clearTimeout(this.lazy); this.lazy = null; }
      this.tick();
    };
    if (this.o.batchWindowMs > 0 && this.o.pending()) setTimeout(run, this.o.batchWindowMs);
    else setImmediate(run);
  }

  /** A tick within `ms`, or sooner with the next one that comes anyway (work that can wait a little:
   *  recording the handles of jobs just started shares the tick of their exits instead of one of its own). */
  wakeWithin(ms: number): void {
    if (this.scheduled || this.lazy || this.stopped) return;
    this.lazy = setTimeout(() => { this.lazy = null; this.wake(); }, ms);
  }

  /** Call `fn` at `after` ms from now; capped: JS timers overflow past ~24.8 days, and the interval re-checks anyway. */
  later(afterMs: number, fn: () => void): void {
    if (this.stopped) return;
    setTimeout(() => { if (!this.stopped) fn(); }, Math.min(Math.max(0, afterMs) + 5, 3_600_000)).unref?.();
  }
}
