// The built-in executors, by name. bootstrap.ts asks for them once; each plugin folder exports a
// factory that satisfies core's Executor. External plugins (--plugins DIR) are added by loader.ts.
import type { Executor } from '../core/ports.ts';
import { createLocalExecutor } from './local/index.ts';
import { createGpuExecutor } from './gpu/index.ts';
import { slurmIfInstalled } from './slurm/index.ts';

export interface ExecutorOptions {
  /** global parallel limit; the local executor's slots */
  maxParallel: number;
  /** --gpu-slots: cap on GPUs used (undefined = all detected) */
  gpuSlots?: number;
  dataDir: string;
}

export function builtinExecutors(o: ExecutorOptions): Map<string, Executor> {
  const executors = new Map<string, Executor>();
  executors.set('local', createLocalExecutor({ slots: o.maxParallel }));
  executors.set('gpu', createGpuExecutor({ slots: o.maxParallel, gpuSlots: o.gpuSlots }));
  const slurm = slurmIfInstalled(); if (slurm) executors.set(slurm.name, slurm);
  return executors;
}
