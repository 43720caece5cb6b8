// The GPU allocator and the admission decision: exclusive indices, lowest free first, release,
// re-reserve after a restart, and when a job runs on CPU, waits, or fails.
import { test, expect, describe } from 'bun:test';
import { GpuAllocator, decide, requestedGpus } from '../../src/plugins/gpu/allocate.ts';
import { StarvationGuard } from '../../src/plugins/gpu/reserve.ts';
import type { GpuInfo, Inventory } from '../../src/plugins/gpu/detect.ts';

const gpu = (index: number): GpuInfo => ({ index, uuid: `GPU-${index}`, name: 'Fake', memory_total_mib: 1000, memory_used_mib: 0, utilization_pct: 0, vendor: 'nvidia' });
const inventory = (indices: number[], reason: string | null = null): Inventory =>
  ({ gpus: indices.map(gpu), detected: indices.length, reason, detail: reason ? `because ${reason}` : null, source: 'nvidia-smi', at: '2025-01-01T00:00:00.000Z' });

describe('GpuAllocator', () => {
  test('gives the lowest free indices and never one index to two jobs', () => {
    const a = new GpuAllocator();
    const usable = [0, 1, 2, 3];
    expect(a.allocate('j1', 2, usable)).toEqual([0, 1]);
    expect(a.allocate('j2', 1, usable)).toEqual([2]);
    expect(a.allocate('j3', 2, usable)).toBeNull(); // only 3 is free
    expect(a.allocate('j4', 1, usable)).toEqual([3]);
    expect(a.free(usable)).toEqual([]);
    const owners = usable.map((i) => a.holderOf(i));
    expect(owners).toEqual(['j1', 'j1', 'j2', 'j4']);
    expect(a.usedCount).toBe(4);
  });

  test('release gives back every index of the job, and only its own', () => {
    const a = new GpuAllocator();
    const usable = [0, 1, 2];
    a.allocate('j1', 2, usable);
    a.allocate('j2', 1, usable);
    expect(a.release('j1')).toEqual([0, 1]);
    expect(a.release('j1')).toEqual([]); // twice is harmless
    expect(a.free(usable)).toEqual([0, 1]);
    expect(a.holderOf(2)).toBe('j2');
    expect(a.allocate('j3', 2, usable)).toEqual([0, 1]);
  });

  test('admitting the same job again returns what it holds (a tick that was rolled back)', () => {
    const a = new GpuAllocator();
    expect(a.allocate('j1', 1, [0, 1])).toEqual([0]);
    expect(a.allocate('j1', 1, [0, 1])).toEqual([0]);
    expect(a.usedCount).toBe(1);
  });

  test('uses only the usable indices, in ascending order', () => {
    const a = new GpuAllocator();
    expect(a.allocate('j1', 2, [3, 1])).toEqual([1, 3]);
    expect(a.allocate('j2', 1, [3, 1])).toBeNull();
  });

  test('reserve (after a restart) takes the recorded indices back and reports conflicts', () => {
    const a = new GpuAllocator();
    expect(a.reserve('old', [1, 2])).toEqual([]);
    expect(a.held('old')).toEqual([1, 2]);
    expect(a.allocate('new', 2, [0, 1, 2, 3])).toEqual([0, 3]);
    expect(a.reserve('other', [3])).toEqual([3]); // 3 stays with 'new'
    expect(a.holderOf(3)).toBe('new');
    expect(a.entries().sort()).toEqual([['new', [0, 3]], ['old', [1, 2]]]);
  });
});

describe('decide', () => {
  test('a job of the gpu executor without `gpus` asks for 1', () => {
    expect(requestedGpus(undefined)).toBe(1);
    expect(decide(inventory([0, 1]), new GpuAllocator(), { jobId: 'j', fallback: 'cpu' })).toEqual({ kind: 'gpu', indices: [0] });
  });

  test('all GPUs busy → wait, with the counts', () => {
    const a = new GpuAllocator();
    a.allocate('other', 1, [0]);
    expect(decide(inventory([0]), a, { jobId: 'j', gpus: 1, fallback: 'cpu' })).toEqual({ kind: 'wait', requested: 1, free: 0, total: 1 });
    expect(decide(inventory([0]), a, { jobId: 'j', gpus: 1, fallback: 'none' }).kind).toBe('wait');
  });

  test('no GPU on the machine: CPU with the detection reason (fallback cpu) or fail (fallback none)', () => {
    const none = inventory([], 'no_gpu_detected');
    expect(decide(none, new GpuAllocator(), { jobId: 'j', gpus: 1, fallback: 'cpu' })).toMatchObject({ kind: 'cpu', reason: 'no_gpu_detected', requested: 1 });
    expect(decide(none, new GpuAllocator(), { jobId: 'j', gpus: 1, fallback: 'none' })).toMatchObject({ kind: 'fail', reason: 'no_gpu_detected' });
    const broken = inventory([], 'nvidia_smi_failed: exit 9');
    expect(decide(broken, new GpuAllocator(), { jobId: 'j', fallback: 'cpu' })).toMatchObject({ kind: 'cpu', reason: 'nvidia_smi_failed: exit 9' });
  });

  test('more GPUs than this server may ever use: not_enough_gpus, never a wait forever', () => {
    expect(decide(inventory([0, 1]), new GpuAllocator(), { jobId: 'j', gpus: 3, fallback: 'cpu' })).toMatchObject({ kind: 'cpu', reason: 'not_enough_gpus' });
    expect(decide(inventory([0, 1]), new GpuAllocator(), { jobId: 'j', gpus: 3, fallback: 'none' })).toMatchObject({ kind: 'fail', reason: 'not_enough_gpus' });
  });

  test('gpus: 0 runs on CPU without touching the GPUs', () => {
    const a = new GpuAllocator();
    expect(decide(inventory([0]), a, { jobId: 'j', gpus: 0, fallback: 'none' })).toMatchObject({ kind: 'cpu', reason: 'no_gpu_requested' });
    expect(a.usedCount).toBe(0);
  });
});

describe('StarvationGuard', () => {
  test('nobody is first in line before the reserve time; then the longest waiter is, for everyone else', () => {
    const g = new StarvationGuard(1000);
    g.waited('big', 4, 0);
    g.waited('small', 1, 500);
    expect(g.reservedFor('other', 900)).toBeNull(); // backfill: nobody has waited 1 s yet
    expect(g.reservedFor('other', 1000)).toEqual({ jobId: 'big', since: 0, requested: 4 });
    expect(g.reservedFor('small', 1200)?.jobId).toBe('big');
    expect(g.reservedFor('big', 1200)).toBeNull(); // the first in line itself may take GPUs
    g.done('big');
    expect(g.reservedFor('other', 1600)?.jobId).toBe('small');
  });

  test('a waiter that stops asking (canceled) lapses', () => {
    const g = new StarvationGuard(1000, 5000);
    g.waited('gone', 2, 0);
    expect(g.reservedFor('x', 4000)?.jobId).toBe('gone');
    expect(g.reservedFor('x', 5001)).toBeNull();
    expect(g.size).toBe(0);
  });
});
