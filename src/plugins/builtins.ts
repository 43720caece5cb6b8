// The built-in executors, defined through the same plugin API as any plugin file (api.ts) and added
// to the same registry: local, gpu, and slurm where the Slurm client commands are installed.
import { cpus } from 'node:os';
import { defineExecutor, API_VERSION, v } from './api.ts';
import { createLocalExecutor } from './local/index.ts';
import { createGpuExecutor } from './gpu/index.ts';
import { createSlurmExecutor } from './slurm/index.ts';
import { slurmOptions } from './slurm/options.ts';

export interface BuiltinOptions {
  /** global parallel limit: the default slots of local and gpu */
  maxParallel?: number;
  /** --gpu-slots: cap on GPUs used (undefined = all detected) */
  gpuSlots?: number;
}

const count = v.pipe(v.number(), v.integer(), v.minValue(1));

export function builtinDefinitions(o: BuiltinOptions = {}) {
  const slots = o.maxParallel ?? cpus().length;
  const local = defineExecutor({
    apiVersion: API_VERSION, name: 'local',
    settings: v.strictObject({ slots: v.optional(count) }),
    create: (s, host) => { const ex = createLocalExecutor({ slots: s.slots ?? slots }); ex.init(host); return ex; },
  });
  const gpu = defineExecutor({
    apiVersion: API_VERSION, name: 'gpu',
    settings: v.strictObject({ slots: v.optional(count), gpu_slots: v.optional(count) }),
    create: (s, host) => { const ex = createGpuExecutor({ slots: s.slots ?? slots, gpuSlots: s.gpu_slots ?? o.gpuSlots }); ex.init(host); return ex; },
  });
  const so = slurmOptions();
  const slurm = defineExecutor({
    apiVersion: API_VERSION, name: so.name,
    // submissions wait in its own rate-limited queue (with retries): a start may take long and must not be cut off
    timeouts: { start: null, startMany: null },
    create: (_s, host) => { const ex = createSlurmExecutor(so); ex.init(host); return ex; },
  });
  return Bun.which('sbatch', { PATH: so.path }) ? [local, gpu, slurm] : [local, gpu];
}
