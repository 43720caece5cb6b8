// The GPU executor in-process (no server): admission env/device/log line, release, readmit,
// explain/describe/metrics, and telemetry — ONE tool call per interval for every GPU.
import { test, expect, describe } from 'bun:test';
import { createGpuExecutor } from '../../src/plugins/gpu/index.ts';
import type { Runner } from '../../src/plugins/gpu/detect.ts';
import type { ExecutorContext, Logger } from '../../src/core/ports.ts';
import type { Resources } from '../../src/core/spec/types.ts';

const quiet: Logger = { info() {}, warn() {}, error() {}, scope() { return quiet; } };

/** A fake nvidia-smi with `n` GPUs whose utilisation is 10 × the call number (and memory 100 ×). */
function smi(n: number | 'exit9') {
  const calls: number[] = [];
  const run: Runner = async (argv) => {
    if (argv[0] !== 'nvidia-smi') return null;
    calls.push(Date.now());
    if (n === 'exit9') return { code: 9, stdout: 'NVIDIA-SMI has failed', stderr: '' };
    const k = calls.length;
    return { code: 0, stderr: '', stdout: Array.from({ length: n }, (_, i) => `${i}, GPU-${i}, Fake GPU ${i}, 8000, ${100 * k}, ${10 * k}`).join('\n') };
  };
  return { run, calls };
}

function context() {
  const stats: { jobId: string; attempt: number; stats: any }[] = [];
  const ctx: ExecutorContext = { notify() {}, recordStats: (jobId, attempt, s) => stats.push({ jobId, attempt, stats: s }), log: quiet };
  return { ctx, stats };
}

const res = (r: Partial<Resources> = {}): Resources => ({ fallback: 'cpu', ...r });

async function make(n: number | 'exit9', opts: { gpuSlots?: number; sampleIntervalMs?: number; env?: Record<string, string> } = {}) {
  const fake = smi(n);
  const ex = createGpuExecutor({ run: fake.run, env: opts.env ?? {}, gpuSlots: opts.gpuSlots, sampleIntervalMs: opts.sampleIntervalMs ?? 60_000, slots: 8 });
  const c = context();
  ex.init(c.ctx);
  const cap = await ex.detect();
  return { ex, cap, ...fake, ...c };
}

describe('gpu executor', () => {
  test('detect: every job slot stays available (CPU fallback needs them); the GPU count comes along', async () => {
    expect((await make(2)).cap).toMatchObject({ available: true, slots: 8, gpus: 2 });
    expect((await make(0)).cap).toMatchObject({ available: true, slots: 8, gpus: 0, reason: 'no_gpu_detected' });
    expect((await make('exit9')).cap).toMatchObject({ available: true, gpus: 0, reason: 'nvidia_smi_failed: exit 9' });
  });

  test('admit: specific GPUs in CUDA/NVIDIA/ROCR_VISIBLE_DEVICES, the device and the log line', async () => {
    const { ex } = await make(4);
    const a = ex.admit({ jobId: 'j1', attempt: 1, resources: res({ gpus: 2 }) });
    expect(a).toEqual({
      ok: true,
      env: { CUDA_VISIBLE_DEVICES: '0,1', NVIDIA_VISIBLE_DEVICES: '0,1', ROCR_VISIBLE_DEVICES: '0,1', CUDA_DEVICE_ORDER: 'PCI_BUS_ID', DROVER_DEVICE: 'gpu' },
      device: { type: 'gpu', indices: [0, 1], names: ['Fake GPU 0', 'Fake GPU 1'], uuids: ['GPU-0', 'GPU-1'], vendor: 'nvidia' },
      logLine: '[DROVER:DEVICE=GPU indices=0,1]',
    });
    const b = ex.admit({ jobId: 'j2', attempt: 1, resources: res() });
    expect(b.ok && b.env!.CUDA_VISIBLE_DEVICES).toBe('2');
  });

  test('busy GPUs: the job waits with gpu_slots_full; explain names the holders; release frees them', async () => {
    const { ex } = await make(1);
    expect(ex.admit({ jobId: 'j1', attempt: 1, resources: res() }).ok).toBe(true);
    const refused = ex.admit({ jobId: 'j2', attempt: 1, resources: res() });
    expect(refused).toMatchObject({ ok: false, blocker: { code: 'gpu_slots_full', requested: 1, free: 0, total: 1 } });
    expect((refused as any).fail).toBeUndefined();
    const why = ex.explain('j2', null);
    expect(why).toHaveLength(1);
    expect(why[0]).toMatchObject({ code: 'gpu_slots_full', holders: [{ index: 0, job: 'j1' }] });
    expect(why[0]!.message).toContain('j1');
    expect(ex.explain('j1', null)).toEqual([]); // the holder itself is not blocked
    ex.release('j1');
    expect(ex.explain('j2', null)).toEqual([]);
    const again = ex.admit({ jobId: 'j2', attempt: 1, resources: res() });
    expect(again.ok && again.env!.CUDA_VISIBLE_DEVICES).toBe('0');
  });

  test('no GPU: CPU fallback recorded, or an immediate failure with fallback none', async () => {
    const { ex } = await make(0);
    expect(ex.admit({ jobId: 'j1', attempt: 1, resources: res({ gpus: 1 }) })).toEqual({
      ok: true,
      env: { CUDA_VISIBLE_DEVICES: '', DROVER_DEVICE: 'cpu', DROVER_GPU_REASON: 'no_gpu_detected' },
      device: { type: 'cpu', gpu_reason: 'no_gpu_detected', gpu_detail: 'nvidia-smi lists no GPU', gpus_requested: 1 },
      logLine: '[DROVER:DEVICE=CPU gpu_reason=no_gpu_detected]',
    });
    expect(ex.admit({ jobId: 'j2', attempt: 1, resources: res({ gpus: 1, fallback: 'none' }) })).toMatchObject({ ok: false, fail: true, blocker: { code: 'no_gpu_detected' } });
    expect(ex.describe()).toMatchObject({ slots: 0, used: 0, cpu_fallback_running: 1, reason: 'no_gpu_detected', gpus: [] });
  });

  test('describe: every GPU with index, name, memory and its holder', async () => {
    const { ex } = await make(2);
    ex.admit({ jobId: 'j1', attempt: 1, resources: res() });
    const d = ex.describe() as any;
    expect(d).toMatchObject({ slots: 2, used: 1, jobs_running: 1, detected: 2, reason: null, detected_by: 'nvidia-smi' });
    expect(d.gpus.map((g: any) => [g.index, g.name, g.memory_total_mib, g.job])).toEqual([[0, 'Fake GPU 0', 8000, 'j1'], [1, 'Fake GPU 1', 8000, null]]);
  });

  test('--gpu-slots and the server CUDA_VISIBLE_DEVICES limit which GPUs are handed out', async () => {
    const { ex } = await make(4, { gpuSlots: 2, env: { CUDA_VISIBLE_DEVICES: '3,1,2' } });
    const a = ex.admit({ jobId: 'j1', attempt: 1, resources: res({ gpus: 2 }) });
    expect(a.ok && a.env!.CUDA_VISIBLE_DEVICES).toBe('1,3');
    expect(ex.admit({ jobId: 'j2', attempt: 1, resources: res() }).ok).toBe(false);
    expect(ex.admit({ jobId: 'j3', attempt: 1, resources: res({ gpus: 3 }) })).toMatchObject({ ok: true, device: { type: 'cpu', gpu_reason: 'not_enough_gpus' } });
  });

  test('readmit after a restart: the re-adopted job keeps its GPUs, nobody else gets them', async () => {
    const { ex } = await make(2);
    ex.readmit('old', { type: 'gpu', indices: [0] });
    const a = ex.admit({ jobId: 'new', attempt: 1, resources: res() });
    expect(a.ok && a.env!.CUDA_VISIBLE_DEVICES).toBe('1');
    expect(ex.admit({ jobId: 'newer', attempt: 1, resources: res() }).ok).toBe(false);
    ex.release('old');
    expect(ex.admit({ jobId: 'newer', attempt: 1, resources: res() })).toMatchObject({ ok: true, env: { CUDA_VISIBLE_DEVICES: '0' } });
  });

  test('telemetry: one nvidia-smi call per interval for all GPUs, folded into each job\'s stats', async () => {
    const { ex, calls, stats } = await make(4, { sampleIntervalMs: 40 });
    expect(calls).toHaveLength(1); // detection
    ex.admit({ jobId: 'a', attempt: 1, resources: res({ gpus: 2 }) });
    ex.admit({ jobId: 'b', attempt: 3, resources: res({ gpus: 1 }) });
    const deadline = Date.now() + 10_000;
    while (calls.length < 5 && Date.now() < deadline) await Bun.sleep(10);
    ex.release('a'); ex.release('b');
    const n = calls.length;
    expect(n).toBeGreaterThanOrEqual(5);
    // two jobs, four GPUs: still one call per interval (never two calls closer than half an interval)
    const gaps = calls.slice(2).map((t, i) => t - calls[i + 1]!);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(20);
    const last = (job: string) => stats.filter((s) => s.jobId === job).at(-1)!;
    expect(stats.filter((s) => s.jobId === 'b').every((s) => s.attempt === 3)).toBe(true);
    const a = last('a').stats.gpu;
    expect(a.indices).toEqual([0, 1]);
    expect(a.samples).toBeGreaterThanOrEqual(3);
    expect(a.per_gpu.map((g: any) => g.index)).toEqual([0, 1]);
    expect(a.utilization_pct.max).toBe(a.utilization_pct.last); // the fake's utilisation only grows
    expect(a.memory_used_mib.last).toBe(2 * a.per_gpu[0].memory_used_mib.last); // summed over the job's GPUs
    expect(last('b').stats.gpu.indices).toEqual([2]);
    // no job holds a GPU any more: sampling stops
    await Bun.sleep(150);
    expect(calls.length).toBe(n);
  });

  test('a failing sample keeps the GPUs it knew (a job never falls back because one query failed)', async () => {
    let fail = false;
    let k = 0;
    const run: Runner = async () => { k++; return fail ? { code: 9, stdout: 'NVIDIA-SMI has failed', stderr: '' } : { code: 0, stderr: '', stdout: '0, GPU-0, Fake, 8000, 0, 0' }; };
    const ex = createGpuExecutor({ run, env: {}, sampleIntervalMs: 20 });
    ex.init(context().ctx);
    await ex.detect();
    fail = true;
    ex.admit({ jobId: 'j1', attempt: 1, resources: res() });
    while (k < 3) await Bun.sleep(10);
    ex.release('j1');
    expect(ex.describe()).toMatchObject({ slots: 1, last_error: expect.stringContaining('nvidia_smi_failed') });
    expect(ex.admit({ jobId: 'j2', attempt: 1, resources: res() })).toMatchObject({ ok: true, device: { type: 'gpu', indices: [0] } });
    ex.release('j2');
  });

  test('metrics: utilisation, memory and holders per GPU in Prometheus format', async () => {
    const { ex } = await make(2);
    ex.admit({ jobId: 'j1', attempt: 1, resources: res() });
    const text = ex.metrics().join('\n');
    expect(text).toContain('# TYPE drover_gpu_utilization_percent gauge');
    expect(text).toContain('drover_gpu_in_use{index="0",uuid="GPU-0",name="Fake GPU 0"} 1');
    expect(text).toContain('drover_gpu_in_use{index="1",uuid="GPU-1",name="Fake GPU 1"} 0');
    expect(text).toContain(`drover_gpu_memory_total_bytes{index="1",uuid="GPU-1",name="Fake GPU 1"} ${8000 * 1048576}`);
    expect(text).toContain('drover_gpus_usable 2');
  });
});
