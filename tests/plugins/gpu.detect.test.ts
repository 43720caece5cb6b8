// GPU detection: parsing nvidia-smi / rocm-smi output, the server's *_VISIBLE_DEVICES and
// --gpu-slots, and the reasons for "no GPU" — against a fake runner and the fake nvidia-smi on PATH.
import { test, expect, describe } from 'bun:test';
import { join, resolve } from 'node:path';
import {
  parseNvidiaSmi, parseRocmSmi, applyVisible, detectGpus, processRunner, SmiParseError, NVIDIA_QUERY,
  type Runner, type RunResult,
} from '../../src/plugins/gpu/detect.ts';

const FAKES = resolve(import.meta.dir, '../fakes/bin');
const H100 = (i: number, used = 0, util = 0) => `${i}, GPU-${i}aaaaaaa-1111-2222-3333-44444444444${i}, NVIDIA H100 80GB HBM3, 81559, ${used}, ${util}`;

/** A runner answering per tool; tools absent from the table are "not installed". */
function fakeRunner(table: Record<string, RunResult>, calls: string[][] = []): Runner {
  return async (argv) => { calls.push(argv); return table[argv[0]!] ?? null; };
}
const ok = (stdout: string): RunResult => ({ code: 0, stdout, stderr: '' });

describe('parseNvidiaSmi', () => {
  test('reads index, uuid, name, memory and utilisation of every GPU, sorted by index', () => {
    const gpus = parseNvidiaSmi(`${H100(1, 2048, 37)}\n${H100(0, 10, 0)}\n`);
    expect(gpus.map((g) => g.index)).toEqual([0, 1]);
    expect(gpus[1]).toEqual({
      index: 1, uuid: 'GPU-1aaaaaaa-1111-2222-3333-444444444441', name: 'NVIDIA H100 80GB HBM3',
      memory_total_mib: 81559, memory_used_mib: 2048, utilization_pct: 37, vendor: 'nvidia',
    });
  });

  test('[N/A] and [Not Supported] become null; a name with a comma survives', () => {
    const [g] = parseNvidiaSmi('0, MIG-abc, NVIDIA A100, PCIe 40GB, 40960, [N/A], [Not Supported]\n');
    expect(g!.name).toBe('NVIDIA A100, PCIe 40GB');
    expect(g!.memory_total_mib).toBe(40960);
    expect(g!.memory_used_mib).toBeNull();
    expect(g!.utilization_pct).toBeNull();
  });

  test('empty output is zero GPUs', () => {
    expect(parseNvidiaSmi('')).toEqual([]);
    expect(parseNvidiaSmi('\n\n')).toEqual([]);
  });

  test.each([
    ['too few fields', 'hello world'],
    ['a non-numeric index', 'zero, GPU-x, Tesla, 1, 2, 3'],
    ['a non-numeric memory', '0, GPU-x, Tesla, lots, 2, 3'],
    ['a duplicate index', `${H100(0)}\n${H100(0)}`],
    ['HTML', '<html><body>error</body></html>'],
  ])('refuses %s', (_what, out) => {
    expect(() => parseNvidiaSmi(out)).toThrow(SmiParseError);
  });
});

describe('parseRocmSmi', () => {
  test('reads cards from the JSON, whatever the case of the field names', () => {
    const gpus = parseRocmSmi(JSON.stringify({
      card1: { 'GPU use (%)': '12', 'VRAM Total Memory (B)': '68702699520', 'VRAM Total Used Memory (B)': '1073741824', 'Card series': 'AMD Instinct MI210', 'Unique ID': '0xabc' },
      card0: { 'GPU use (%)': 'N/A', 'vram total memory (b)': '68702699520', 'Card Series': 'AMD Instinct MI210' },
      system: { 'Driver version': '6.2' },
    }));
    expect(gpus.map((g) => [g.index, g.name, g.utilization_pct, g.memory_used_mib])).toEqual([
      [0, 'AMD Instinct MI210', null, null],
      [1, 'AMD Instinct MI210', 12, 1024],
    ]);
    expect(gpus[1]!.memory_total_mib).toBe(65520);
    expect(gpus[1]!.vendor).toBe('amd');
  });

  test('refuses output that is not JSON', () => {
    expect(() => parseRocmSmi('WARNING: no AMD GPUs')).toThrow(SmiParseError);
  });
});

describe('applyVisible', () => {
  const gpus = parseNvidiaSmi([0, 1, 2, 3].map((i) => H100(i)).join('\n'));
  const idx = (v: string | undefined) => applyVisible(gpus, v).map((g) => g.index);

  test('unset keeps every GPU; empty hides them all', () => {
    expect(idx(undefined)).toEqual([0, 1, 2, 3]);
    expect(idx('')).toEqual([]);
  });
  test('indices in the order given, duplicates once', () => {
    expect(idx('3,1')).toEqual([3, 1]);
    expect(idx('2, 2,0')).toEqual([2, 0]);
  });
  test('UUIDs and UUID prefixes', () => {
    expect(idx('GPU-2aaaaaaa-1111-2222-3333-444444444442,GPU-0aaaaaaa')).toEqual([2, 0]);
  });
  test('like CUDA, the list ends at the first entry naming no GPU (-1 hides all)', () => {
    expect(idx('-1')).toEqual([]);
    expect(idx('1,7,2')).toEqual([1]);
    expect(idx('MIG-unknown,0')).toEqual([]);
  });
});

describe('detectGpus', () => {
  test('nvidia-smi is asked ONE query for every GPU', async () => {
    const calls: string[][] = [];
    const inv = await detectGpus({ run: fakeRunner({ 'nvidia-smi': ok(`${H100(0)}\n${H100(1)}\n`) }, calls), env: {} });
    expect(calls).toEqual([['nvidia-smi', ...NVIDIA_QUERY]]);
    expect(NVIDIA_QUERY).toEqual(['--query-gpu=index,uuid,name,memory.total,memory.used,utilization.gpu', '--format=csv,noheader,nounits']);
    expect(inv.gpus.map((g) => g.index)).toEqual([0, 1]);
    expect(inv).toMatchObject({ detected: 2, reason: null, source: 'nvidia-smi' });
  });

  test('no tool at all: zero GPUs, no_gpu_detected', async () => {
    const inv = await detectGpus({ run: fakeRunner({}), env: {} });
    expect(inv).toMatchObject({ gpus: [], detected: 0, reason: 'no_gpu_detected', source: null });
    expect(inv.detail).toContain('nvidia-smi');
  });

  test('"No devices were found" (exit 6) is no_gpu_detected, not a failure', async () => {
    const inv = await detectGpus({ run: fakeRunner({ 'nvidia-smi': { code: 6, stdout: 'No devices were found\n', stderr: '' } }), env: {} });
    expect(inv.reason).toBe('no_gpu_detected');
    expect(inv.gpus).toEqual([]);
  });

  test('a failing nvidia-smi: nvidia_smi_failed with the exit code and its message', async () => {
    const inv = await detectGpus({ run: fakeRunner({ 'nvidia-smi': { code: 9, stdout: "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\n", stderr: '' } }), env: {} });
    expect(inv.gpus).toEqual([]);
    expect(inv.reason).toBe('nvidia_smi_failed: exit 9');
    expect(inv.detail).toContain("couldn't communicate");
  });

  test('garbage from nvidia-smi: nvidia_smi_failed, never a crash', async () => {
    const inv = await detectGpus({ run: fakeRunner({ 'nvidia-smi': ok('<html>oops</html>\n') }), env: {} });
    expect(inv.reason).toBe('nvidia_smi_failed: unreadable output');
  });

  test('a hung nvidia-smi is cut off', async () => {
    const inv = await detectGpus({ run: fakeRunner({ 'nvidia-smi': { code: null, stdout: '', stderr: '', timedOut: true } }), env: {} });
    expect(inv.reason).toBe('nvidia_smi_failed: timed out');
  });

  test('a tool that cannot be run at all: nvidia_smi_failed: error', async () => {
    const inv = await detectGpus({ run: async () => { throw new Error('EACCES'); }, env: {} });
    expect(inv.reason).toBe('nvidia_smi_failed: error');
    expect(inv.detail).toContain('EACCES');
  });

  test('rocm-smi is asked when there is no NVIDIA GPU', async () => {
    const rocm = ok(JSON.stringify({ card0: { 'GPU use (%)': '3', 'Card series': 'MI300X' } }));
    const calls: string[][] = [];
    const inv = await detectGpus({ run: fakeRunner({ 'nvidia-smi': { code: 6, stdout: 'No devices were found', stderr: '' }, 'rocm-smi': rocm }, calls), env: { ROCR_VISIBLE_DEVICES: '0' } });
    expect(calls.map((c) => c[0])).toEqual(['nvidia-smi', 'rocm-smi']);
    expect(inv).toMatchObject({ source: 'rocm-smi', reason: null });
    expect(inv.gpus.map((g) => [g.index, g.name, g.vendor])).toEqual([[0, 'MI300X', 'amd']]);
  });

  test('the server\'s CUDA_VISIBLE_DEVICES restricts, --gpu-slots caps', async () => {
    const run = fakeRunner({ 'nvidia-smi': ok([0, 1, 2, 3].map((i) => H100(i)).join('\n')) });
    expect((await detectGpus({ run, env: { CUDA_VISIBLE_DEVICES: '1,3' } })).gpus.map((g) => g.index)).toEqual([1, 3]);
    expect((await detectGpus({ run, env: {}, gpuSlots: 2 })).gpus.map((g) => g.index)).toEqual([0, 1]);
    expect((await detectGpus({ run, env: { CUDA_VISIBLE_DEVICES: '3,2,1' }, gpuSlots: 1 })).gpus.map((g) => g.index)).toEqual([3]);
    const hidden = await detectGpus({ run, env: { CUDA_VISIBLE_DEVICES: '' } });
    expect(hidden).toMatchObject({ gpus: [], detected: 4, reason: 'no_gpu_detected' });
    expect(hidden.detail).toContain('VISIBLE_DEVICES');
    const none = await detectGpus({ run, env: {}, gpuSlots: 0 });
    expect(none).toMatchObject({ gpus: [], reason: 'no_gpu_detected' });
    expect(none.detail).toContain('--gpu-slots');
  });
});

describe('the fake nvidia-smi through the process runner', () => {
  const env = (mode: string) => ({ PATH: `${FAKES}:${process.env.PATH}`, FAKE_NVIDIA_SMI: mode });
  test.each([
    ['2', 2, null],
    ['4', 4, null],
    ['0', 0, 'no_gpu_detected'],
    ['exit9', 0, 'nvidia_smi_failed: exit 9'],
    ['garbage', 0, 'nvidia_smi_failed: unreadable output'],
  ])('FAKE_NVIDIA_SMI=%s → %d GPU(s), reason %p', async (mode, n, reason) => {
    const e = env(mode);
    const inv = await detectGpus({ run: processRunner(e), env: e });
    expect(inv.gpus).toHaveLength(n);
    expect(inv.reason).toBe(reason);
  });

  test('a PATH without the tool: no_gpu_detected', async () => {
    const e = { PATH: join(FAKES, 'nowhere') };
    const inv = await detectGpus({ run: processRunner(e), env: e });
    expect(inv.reason).toBe('no_gpu_detected');
  });
});
