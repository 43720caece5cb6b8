// GPU-seconds: wall × the GPUs a job held (jobs.device), with a fake nvidia-smi (tests/fakes/bin)
// reporting two GPUs; a CPU job counts none.
import { test, expect, afterAll } from 'bun:test';
import { resolve } from 'node:path';
import { startServer, type TestServer } from '../helpers/server.ts';
import { gpusOf } from '../../src/core/triggers/cost.ts';

let s: TestServer;
afterAll(() => s?.stop());

test('a job on two GPUs costs twice its wall time in GPU-seconds', async () => {
  const saved = { PATH: process.env.PATH, FAKE_NVIDIA_SMI: process.env.FAKE_NVIDIA_SMI, CUDA_VISIBLE_DEVICES: process.env.CUDA_VISIBLE_DEVICES };
  process.env.PATH = `${resolve(import.meta.dir, '../fakes/bin')}:${process.env.PATH}`;
  process.env.FAKE_NVIDIA_SMI = '2';
  delete process.env.CUDA_VISIBLE_DEVICES;
  try { s = await startServer(['--max-parallel', '4']); } finally {
    for (const [k, v] of Object.entries(saved)) { if (v === undefined) delete process.env[k]; else process.env[k] = v; }
  }
  const spec = { name: 'gpu-cost', stages: [{ name: 'a', jobs: [
    { name: 'two', executor: 'gpu', resources: { gpus: 2 }, commands: ['sleep 0.5'] },
    { name: 'cpu', commands: ['sleep 0.2'] },
  ] }] };
  const { run } = await s.submit(spec);
  const done = await s.waitRun(run.id);
  expect(done.status).toBe('succeeded');
  const two = done.stages[0].jobs.find((j: any) => j.name === 'two');
  expect(two.device).toMatchObject({ type: 'gpu', indices: [0, 1] });
  const wallTwo = (Date.parse(two.ended_at) - Date.parse(two.started_at)) / 1000;
  expect(done.cost.gpu_seconds).toBeCloseTo(2 * wallTwo, 2);
  expect(done.cost.gpu_seconds).toBeGreaterThanOrEqual(1);
  expect(done.cost.attempts).toBe(2);
}, 60_000);

test('GPUs are counted from the device: gpu indices, or none for a CPU fallback', () => {
  expect(gpusOf({ device: JSON.stringify({ type: 'gpu', indices: [0, 3, 5] }) })).toBe(3);
  expect(gpusOf({ device: JSON.stringify({ type: 'cpu', gpu_reason: 'no_gpu_detected' }) })).toBe(0);
  expect(gpusOf({ device: null })).toBe(0);
  expect(gpusOf({ device: 'not json' })).toBe(0);
});
