// The Slurm executor's settings, with defaults fit for a shared cluster, read once from DROVER_SLURM_*
// variables (the server has no Slurm flags of its own). Sites ask for fewer than ~10 submissions a
// minute per user: sweeps become arrays, and submissions beyond the cap wait (and coalesce) in a queue.
import { userInfo } from 'node:os';

export interface SlurmOptions {
  name: string;
  /** where the Slurm client commands are looked up (not the jobs' PATH) */
  path: string;
  /** jobs (array tasks included) this server keeps submitted at once: the executor's slots */
  maxSubmitted: number;
  /** sbatch calls per minute (token bucket), and how many may go at once after a quiet spell */
  submitsPerMinute: number;
  submitBurst: number;
  /** %K of `--array=0-N%K`: tasks of one array running at once (undefined: no limit beyond Slurm's) */
  arrayParallel?: number;
  /** tasks per array at most (Slurm's MaxArraySize is 1001 by default) */
  maxArraySize: number;
  /** poll interval: fastest while jobs start or change, growing to the slowest when nothing happens */
  pollMinMs: number;
  pollMaxMs: number;
  /** the longest wait between retries of a failing squeue/sbatch/scancel */
  maxBackoffMs: number;
  /** the wall-clock limit of one Slurm client call */
  callTimeoutMs: number;
  /** how long a job may be missing from squeue with no answer from sacct before the files decide */
  missingGraceMs: number;
  /** extra long option names allowed in resources.sbatch */
  extraAllowed: string[];
  /** whose jobs squeue lists: this process's uid */
  user: string;
}

const num = (v: string | undefined, dflt: number): number => {
  const n = v === undefined || v.trim() === '' ? NaN : Number(v);
  return Number.isFinite(n) && n > 0 ? n : dflt;
};

export function slurmOptions(env: Record<string, string | undefined> = process.env): SlurmOptions {
  const perMin = num(env.DROVER_SLURM_SUBMITS_PER_MIN, 10);
  // squeue takes a numeric uid as well as a name (and os.userInfo() may not know the name)
  const user = env.DROVER_SLURM_USER ?? String(process.getuid?.() ?? userInfo().username);
  return {
    name: 'slurm',
    path: env.DROVER_SLURM_PATH ?? env.PATH ?? '/usr/bin:/bin',
    maxSubmitted: Math.floor(num(env.DROVER_SLURM_MAX_SUBMITTED, 1000)),
    submitsPerMinute: perMin,
    submitBurst: Math.max(1, Math.floor(num(env.DROVER_SLURM_SUBMIT_BURST, Math.min(perMin, 10)))),
    arrayParallel: env.DROVER_SLURM_ARRAY_PARALLEL ? Math.floor(num(env.DROVER_SLURM_ARRAY_PARALLEL, 0)) || undefined : undefined,
    maxArraySize: Math.floor(num(env.DROVER_SLURM_MAX_ARRAY_SIZE, 1000)),
    pollMinMs: num(env.DROVER_SLURM_POLL_MIN_MS, 1000),
    pollMaxMs: num(env.DROVER_SLURM_POLL_MAX_MS, 5000),
    maxBackoffMs: num(env.DROVER_SLURM_MAX_BACKOFF_MS, 60_000),
    callTimeoutMs: num(env.DROVER_SLURM_CALL_TIMEOUT_MS, 30_000),
    missingGraceMs: num(env.DROVER_SLURM_MISSING_GRACE_MS, 60_000),
    extraAllowed: (env.DROVER_SLURM_SBATCH_ALLOW ?? '').split(',').map((s) => s.trim().replace(/^--/, '')).filter(Boolean),
    user,
  };
}

/** Exponential backoff: 1 s, 2 s, 4 s … capped. */
export const backoffMs = (failures: number, cap: number): number => Math.min(cap, 1000 * 2 ** Math.max(0, failures - 1));
