// GPU telemetry: folds the samples of one job's GPUs (utilisation %, memory used) into the small
// summary stored as the job's stats ({gpu: {samples, utilization_pct: {last, avg, max}, …}}), and
// renders the GPUs as Prometheus lines. Samples come from the one detection call per interval
// (detect.ts); this file runs no tool and keeps no timer.
import type { GpuInfo } from './detect.ts';

interface Series { last: number | null; max: number | null; sum: number; n: number }
const series = (): Series => ({ last: null, max: null, sum: 0, n: 0 });
function add(s: Series, v: number | null): void {
  if (v === null) return;
  s.last = v; s.max = s.max === null ? v : Math.max(s.max, v); s.sum += v; s.n++;
}
const avg = (s: Series) => (s.n ? Math.round((s.sum / s.n) * 10) / 10 : null);

/** The running summary of one job's GPUs. */
export class JobTelemetry {
  private samples = 0;
  private sampledAt: string | null = null;
  private perGpu = new Map<number, { name: string; total: number | null; util: Series; mem: Series }>();
  private util = series();
  private mem = series();

  constructor(readonly indices: number[]) {}

  /** Fold in one sample of every GPU (only this job's are used); false when none of them was in it. */
  add(all: GpuInfo[], at: string): boolean {
    const mine = all.filter((g) => this.indices.includes(g.index));
    if (mine.length === 0) return false;
    this.samples++; this.sampledAt = at;
    let utilSum = 0, utilN = 0, memSum = 0, memN = 0;
    for (const g of mine) {
      const p = this.perGpu.get(g.index) ?? { name: g.name, total: g.memory_total_mib, util: series(), mem: series() };
      add(p.util, g.utilization_pct); add(p.mem, g.memory_used_mib);
      this.perGpu.set(g.index, p);
      if (g.utilization_pct !== null) { utilSum += g.utilization_pct; utilN++; }
      if (g.memory_used_mib !== null) { memSum += g.memory_used_mib; memN++; }
    }
    add(this.util, utilN ? utilSum / utilN : null); // the job's GPUs, averaged
    add(this.mem, memN ? memSum : null); // the job's GPUs, summed
    return true;
  }

  toStats(): Record<string, unknown> {
    return {
      gpu: {
        samples: this.samples, sampled_at: this.sampledAt, indices: this.indices,
        utilization_pct: { last: this.util.last, avg: avg(this.util), max: this.util.max },
        memory_used_mib: { last: this.mem.last, max: this.mem.max },
        per_gpu: [...this.perGpu].map(([index, p]) => ({
          index, name: p.name, memory_total_mib: p.total,
          utilization_pct: { last: p.util.last, avg: avg(p.util), max: p.util.max },
          memory_used_mib: { last: p.mem.last, max: p.mem.max },
        })),
      },
    };
  }
}

const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

/** Prometheus lines for the usable GPUs and who holds them. */
export function gpuMetrics(gpus: GpuInfo[], holderOf: (index: number) => string | null, extra: { detected: number; cpuFallbackRunning: number }): string[] {
  const label = (g: GpuInfo) => `index="${g.index}",uuid="${esc(g.uuid)}",name="${esc(g.name)}"`;
  const gauge = (name: string, help: string, rows: string[]) => [`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, ...rows];
  const per = (pick: (g: GpuInfo) => number | null, scale = 1) =>
    gpus.flatMap((g) => { const v = pick(g); return v === null ? [] : [`{${label(g)}} ${v * scale}`]; });
  return [
    ...gauge('drover_gpus_detected', 'GPUs the detection tool lists (before CUDA_VISIBLE_DEVICES and --gpu-slots)', [`drover_gpus_detected ${extra.detected}`]),
    ...gauge('drover_gpus_usable', 'GPUs jobs may be given', [`drover_gpus_usable ${gpus.length}`]),
    ...gauge('drover_gpu_in_use', '1 while a job holds the GPU', gpus.map((g) => `drover_gpu_in_use{${label(g)}} ${holderOf(g.index) ? 1 : 0}`)),
    ...gauge('drover_gpu_utilization_percent', 'GPU utilisation at the last sample', per((g) => g.utilization_pct).map((r) => `drover_gpu_utilization_percent${r}`)),
    ...gauge('drover_gpu_memory_used_bytes', 'GPU memory used at the last sample', per((g) => g.memory_used_mib, 1048576).map((r) => `drover_gpu_memory_used_bytes${r}`)),
    ...gauge('drover_gpu_memory_total_bytes', 'GPU memory', per((g) => g.memory_total_mib, 1048576).map((r) => `drover_gpu_memory_total_bytes${r}`)),
    ...gauge('drover_gpu_cpu_fallback_jobs', 'GPU-executor jobs running on CPU (fallback)', [`drover_gpu_cpu_fallback_jobs ${extra.cpuFallbackRunning}`]),
  ];
}
