// The GPU executor: runs jobs on this machine's GPUs through the local executor's runner (spawn,
// watch, cancel and re-adopt are the local executor's, by composition), and adds what GPUs need:
//   detect()   one nvidia-smi (or rocm-smi) call: the usable GPUs, or none with a reason
//   admit()    N specific free GPUs, exported as CUDA/NVIDIA/ROCR_VISIBLE_DEVICES; on a machine
//              without GPUs, CPU fallback (recorded) or an immediate failure (`fallback: none`);
//              all GPUs busy → the job waits (gpu_slots_full) and jobs behind it may start; a job
//              waiting longer than reserveAfterMs holds the GPUs back for itself (reserve.ts)
//   release()  gives the GPUs back however the job ended; readmit() re-reserves after a restart
//   telemetry  while jobs hold GPUs, ONE tool call per interval samples every GPU → job stats
//   explain()/describe()/metrics()  gpu_slots_full with holders; the GPU list for GET /queue; /metrics
import { cpus } from 'node:os';
import { SECOND } from '../../core/config.ts';
import type { Admission, Blocker, Executor, ExecutorContext, Handle, PreparedJob } from '../../core/ports.ts';
import type { Resources } from '../../core/spec/types.ts';
import { createLocalExecutor } from '../local/index.ts';
import { detectGpus, processRunner, type GpuInfo, type Inventory, type Runner } from './detect.ts';
import { GpuAllocator, decide, requestedGpus } from './allocate.ts';
import { JobTelemetry, gpuMetrics } from './telemetry.ts';
import { StarvationGuard } from './reserve.ts';

export interface GpuOptions {
  name?: string;
  /** jobs of this executor running at once (GPU jobs are further limited by free GPUs) */
  slots?: number;
  /** --gpu-slots: use at most this many GPUs */
  gpuSlots?: number;
  /** telemetry interval while jobs hold GPUs (env DROVER_GPU_SAMPLE_MS) */
  sampleIntervalMs?: number;
  /** how detection tools are run (tests inject fakes); default: the real ones on PATH */
  run?: Runner;
  /** the server's environment (CUDA_VISIBLE_DEVICES restricts the GPUs) */
  env?: Record<string, string | undefined>;
  watchIntervalMs?: number;
  /** a job waiting for GPUs longer than this is first in line (env DROVER_GPU_RESERVE_AFTER_MS; default 60 s) */
  reserveAfterMs?: number;
}

const EMPTY: Inventory = { gpus: [], detected: 0, reason: 'no_gpu_detected', detail: 'detection has not run yet', source: null, at: new Date(0).toISOString() };

export function createGpuExecutor({
  name = 'gpu', slots = cpus().length, gpuSlots, sampleIntervalMs = Number(process.env.DROVER_GPU_SAMPLE_MS) || 10 * SECOND,
  run = processRunner(), env = process.env, watchIntervalMs, reserveAfterMs = Number(process.env.DROVER_GPU_RESERVE_AFTER_MS) || 60 * SECOND,
}: GpuOptions = {}) {
  const guard = new StarvationGuard(reserveAfterMs);
  const local = createLocalExecutor({ name, slots, watchIntervalMs });
  const alloc = new GpuAllocator();
  /** jobs holding GPUs (attempt: null until adopt() tells it after a restart) */
  const holding = new Map<string, { attempt: number | null; telemetry: JobTelemetry }>();
  const onCpu = new Set<string>();
  /** the last refused request per queued job, for explain() */
  const waiting = new Map<string, number>();
  let inv: Inventory = EMPTY;
  let lastError: string | null = null;
  let ctx: ExecutorContext | null = null;
  let inflight: Promise<Inventory> | null = null;
  let lastQueryAt = 0;
  let sampler: ReturnType<typeof setInterval> | null = null;

  /** One detection call (never two at once); samples the GPUs that jobs hold. */
  function refresh(): Promise<Inventory> {
    inflight ??= (async () => {
      lastQueryAt = Date.now();
      const next = await detectGpus({ run, env, gpuSlots });
      if (next.gpus.length === 0 && inv.gpus.length > 0 && next.reason !== 'no_gpu_detected') {
        lastError = `${next.reason}: ${next.detail}`; // a failed sample keeps the GPUs we know
        ctx?.log.warn('GPU query failed; keeping the last known GPUs', { reason: next.reason, detail: next.detail });
        return inv;
      }
      lastError = null;
      inv = next;
      for (const [jobId, h] of holding) {
        if (h.attempt !== null && h.telemetry.add(inv.gpus, inv.at)) ctx?.recordStats(jobId, h.attempt, h.telemetry.toStats());
      }
      return inv;
    })().finally(() => { inflight = null; });
    return inflight;
  }

  function sampling(): void {
    if (holding.size > 0 && !sampler) {
      sampler = setInterval(() => { if (Date.now() - lastQueryAt >= sampleIntervalMs / 2) refresh().catch(() => {}); }, sampleIntervalMs);
      sampler.unref?.();
    } else if (holding.size === 0 && sampler) {
      clearInterval(sampler); sampler = null;
    }
  }

  function hold(jobId: string, attempt: number | null, indices: number[]): void {
    holding.set(jobId, { attempt, telemetry: new JobTelemetry(indices) });
    sampling();
  }

  const info = (i: number): GpuInfo | undefined => inv.gpus.find((g) => g.index === i);

  function admitGpu(jobId: string, attempt: number, resources: Resources): Admission {
    const now = Date.now();
    const n = requestedGpus(resources.gpus);
    const first = n > 0 && n <= inv.gpus.length ? guard.reservedFor(jobId, now) : null;
    if (first) {
      guard.waited(jobId, n, now);
      return { ok: false, blocker: {
        code: 'gpu_reserved', job: first.jobId, requested: n,
        message: `GPUs are held back for job ${first.jobId}, which has waited since ${new Date(first.since).toISOString()} for ${first.requested} GPU(s)`,
      } };
    }
    const d = decide(inv, alloc, { jobId, gpus: resources.gpus, fallback: resources.fallback });
    if (d.kind === 'wait') guard.waited(jobId, d.requested, now);
    else guard.done(jobId);
    if (d.kind === 'wait') {
      waiting.delete(jobId);
      waiting.set(jobId, d.requested);
      if (waiting.size > 10_000) waiting.delete(waiting.keys().next().value!); // jobs canceled while waiting never come back
      return { ok: false, blocker: { code: 'gpu_slots_full', message: `needs ${d.requested} GPU(s); ${d.free} of ${d.total} free`, requested: d.requested, free: d.free, total: d.total } };
    }
    waiting.delete(jobId);
    if (d.kind === 'fail') return { ok: false, fail: true, blocker: { code: d.reason, message: `${d.detail} (fallback: none)`, requested: d.requested } };
    if (d.kind === 'cpu') {
      onCpu.add(jobId);
      return {
        ok: true,
        env: { CUDA_VISIBLE_DEVICES: '', DROVER_DEVICE: 'cpu', DROVER_GPU_REASON: d.reason },
        device: { type: 'cpu', gpu_reason: d.reason, gpu_detail: d.detail, gpus_requested: d.requested },
        logLine: `[DROVER:DEVICE=CPU gpu_reason=${d.reason}]`,
      };
    }
    hold(jobId, attempt, d.indices);
    const list = d.indices.join(',');
    return {
      ok: true,
      env: { CUDA_VISIBLE_DEVICES: list, NVIDIA_VISIBLE_DEVICES: list, ROCR_VISIBLE_DEVICES: list, CUDA_DEVICE_ORDER: 'PCI_BUS_ID', DROVER_DEVICE: 'gpu' },
      device: {
        type: 'gpu', indices: d.indices, names: d.indices.map((i) => info(i)?.name ?? null),
        uuids: d.indices.map((i) => info(i)?.uuid ?? null), vendor: info(d.indices[0]!)?.vendor ?? null,
      },
      logLine: `[DROVER:DEVICE=GPU indices=${list}]`,
    };
  }

  const executor = {
    adoptsFromFolder: local.adoptsFromFolder,
    signalsProcessGroup: local.signalsProcessGroup,
    init(c: ExecutorContext) { ctx = c; local.init(c); },

    async detect() {
      const found = await refresh();
      ctx?.log.info('GPU detection', { usable: found.gpus.length, detected: found.detected, source: found.source, reason: found.reason, detail: found.detail });
      return { available: true, slots, gpus: found.gpus.length, ...(found.reason ? { reason: found.reason } : {}) };
    },

    start: (job: PreparedJob) => local.start(job),
    poll: local.poll,
    cancel: local.cancel,

    async adopt(jobId: string, attempt: number, handle: Handle) {
      const h = holding.get(jobId);
      if (h) h.attempt = attempt;
      return local.adopt(jobId, attempt, handle);
    },

    admit(req: { jobId: string; attempt: number; resources: Resources }): Admission {
      try {
        return admitGpu(req.jobId, req.attempt, req.resources);
      } catch (err) {
        // DroverInternal<gpu-admit>: never start a job on GPUs we could not account for
        ctx?.log.error('DroverInternal<gpu-admit> GPU admission failed', { jobId: req.jobId, err: String(err) });
        return { ok: false, blocker: { code: 'gpu_admission_error', message: String(err) } };
      }
    },

    release(jobId: string) {
      guard.done(jobId);
      alloc.release(jobId);
      holding.delete(jobId);
      onCpu.delete(jobId);
      waiting.delete(jobId);
      sampling();
    },

    readmit(jobId: string, device: Record<string, unknown>) {
      if (device.type === 'cpu') { onCpu.add(jobId); return; }
      const indices = Array.isArray(device.indices) ? device.indices.filter((i): i is number => Number.isInteger(i)) : [];
      if (indices.length === 0) return;
      const conflicts = alloc.reserve(jobId, indices);
      if (conflicts.length) ctx?.log.error('DroverInternal<gpu-readmit-conflict> two re-adopted jobs claim the same GPU', { jobId, conflicts });
      hold(jobId, null, alloc.held(jobId) ?? []);
    },

    explain(jobId: string, _handle: Handle | null): Blocker[] {
      if (holding.has(jobId) || onCpu.has(jobId)) return [];
      const first = guard.reservedFor(jobId, Date.now());
      if (first) return [{ code: 'gpu_reserved', job: first.jobId, message: `GPUs are held back for job ${first.jobId}, which has waited since ${new Date(first.since).toISOString()} for ${first.requested} GPU(s)` }];
      const usable = inv.gpus.map((g) => g.index);
      const requested = waiting.get(jobId) ?? requestedGpus(undefined);
      const free = alloc.free(usable).length;
      if (usable.length === 0 || requested > usable.length || free >= requested) return [];
      const holders = usable.filter((i) => alloc.holderOf(i)).map((i) => ({ index: i, job: alloc.holderOf(i)! }));
      const who = holders.map((h) => `GPU ${h.index} by job ${h.job}`).join(', ');
      return [{ code: 'gpu_slots_full', message: `needs ${requested} GPU(s); ${free} of ${usable.length} free (held: ${who})`, requested, free, total: usable.length, holders }];
    },

    describe(): Record<string, unknown> {
      if (Date.now() - lastQueryAt > sampleIntervalMs) refresh().catch(() => {}); // on demand: fresh numbers for the next look
      const usable = inv.gpus.map((g) => g.index);
      return {
        slots: usable.length,
        used: usable.filter((i) => alloc.holderOf(i)).length,
        jobs_running: holding.size + onCpu.size,
        cpu_fallback_running: onCpu.size,
        gpus: inv.gpus.map((g) => ({ ...g, job: alloc.holderOf(g.index) })),
        detected: inv.detected, detected_by: inv.source, reason: inv.reason, detail: inv.detail, detected_at: inv.at,
        ...(lastError ? { last_error: lastError } : {}),
      };
    },

    metrics(): string[] {
      return gpuMetrics(inv.gpus, (i) => alloc.holderOf(i), { detected: inv.detected, cpuFallbackRunning: onCpu.size });
    },
  } satisfies Executor;
  return executor;
}
