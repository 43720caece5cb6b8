// Exclusive GPU assignment. The allocator is the one record of which job holds which GPU index:
// an index has at most one holder, a job gets specific indices (lowest free first) and gives all of
// them back at once. decide() turns a job's request and the current inventory into a decision:
// run on these GPUs, run on CPU (fallback, with the reason), wait (all busy), or fail at once.
// Pure and synchronous (unit-tested); not here: detection (detect.ts) or env/log lines (index.ts).
import type { Inventory } from './detect.ts';

export class GpuAllocator {
  private holders = new Map<number, string>();
  private byJob = new Map<string, number[]>();

  /** N free indices among `usable` for `jobId`, lowest first; null when fewer are free. A job that already holds N keeps them. */
  allocate(jobId: string, n: number, usable: number[]): number[] | null {
    const mine = this.byJob.get(jobId);
    if (mine && mine.length === n) return [...mine];
    if (mine) this.release(jobId);
    const free = this.free(usable);
    if (free.length < n) return null;
    const got = free.slice(0, n);
    this.take(jobId, got);
    return [...got];
  }

  /**
   * After a restart: the job holds these indices again, whatever detection says now (it is running on
   * them). Returns the indices another job already held (which should never happen), left to that job.
   */
  reserve(jobId: string, indices: number[]): number[] {
    this.release(jobId);
    const conflicts = indices.filter((i) => this.holders.has(i) && this.holders.get(i) !== jobId);
    this.take(jobId, indices.filter((i) => !conflicts.includes(i)));
    return conflicts;
  }

  /** Give back every index `jobId` holds; returns them. */
  release(jobId: string): number[] {
    const mine = this.byJob.get(jobId) ?? [];
    for (const i of mine) if (this.holders.get(i) === jobId) this.holders.delete(i);
    this.byJob.delete(jobId);
    return mine;
  }

  free(usable: number[]): number[] { return [...usable].sort((a, b) => a - b).filter((i) => !this.holders.has(i)); }
  holderOf(index: number): string | null { return this.holders.get(index) ?? null; }
  held(jobId: string): number[] | null { const m = this.byJob.get(jobId); return m ? [...m] : null; }
  /** Every job holding GPUs, with its indices. */
  entries(): [string, number[]][] { return [...this.byJob].map(([j, ix]) => [j, [...ix]]); }
  get usedCount(): number { return this.holders.size; }

  private take(jobId: string, indices: number[]): void {
    if (indices.length === 0) return;
    for (const i of indices) this.holders.set(i, jobId);
    this.byJob.set(jobId, [...indices].sort((a, b) => a - b));
  }
}

export interface GpuRequest { jobId: string; gpus?: number; fallback: 'cpu' | 'none' }

export type Decision =
  | { kind: 'gpu'; indices: number[] }
  | { kind: 'cpu'; reason: string; detail: string; requested: number }
  | { kind: 'wait'; requested: number; free: number; total: number }
  | { kind: 'fail'; reason: string; detail: string; requested: number };

/** `gpus` absent means 1 for a job of the gpu executor; 0 runs it on CPU without asking for a GPU. */
export function requestedGpus(gpus: number | undefined): number { return gpus ?? 1; }

export function decide(inv: Inventory, alloc: GpuAllocator, req: GpuRequest): Decision {
  const n = requestedGpus(req.gpus);
  if (n === 0) return { kind: 'cpu', reason: 'no_gpu_requested', detail: 'the job asks for 0 GPUs', requested: 0 };
  const usable = inv.gpus.map((g) => g.index);
  let reason: string | null = null, detail = '';
  if (usable.length === 0) { reason = inv.reason ?? 'no_gpu_detected'; detail = inv.detail ?? 'no GPU on this machine'; }
  else if (n > usable.length) { reason = 'not_enough_gpus'; detail = `the job asks for ${n} GPU(s); this server may use ${usable.length}`; }
  if (reason !== null) return req.fallback === 'cpu' ? { kind: 'cpu', reason, detail, requested: n } : { kind: 'fail', reason, detail, requested: n };
  const got = alloc.allocate(req.jobId, n, usable);
  if (got) return { kind: 'gpu', indices: got };
  return { kind: 'wait', requested: n, free: alloc.free(usable).length, total: usable.length };
}
