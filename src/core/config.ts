// Engine configuration with named units; bootstrap merges flags over these defaults once.
export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

export interface EngineConfig {
  dataDir: string;
  runsDir: string;
  workspaceRoot: string;
  maxParallel: number;
  killGraceMs: number;
  tickIntervalMs: number;
  maxSweep: number;
  idempotencyTtlMs: number;
  /** how long a tick waits for more completions so they share one commit */
  batchWindowMs: number;
  /** agent leases: how long one lasts without a heartbeat, and the grace after our own restart */
  leaseTtlMs: number;
  leaseGraceMs: number;
  /** the reaper's hard cap on a job's running time when it has no timeout */
  backstopMs: number;
  /** how long an observed end may take to be applied before the reaper looks, and a finalizer's marker lasts unrenewed */
  finalizeGraceMs: number;
  /** how often an executor whose backend was missing is asked again (detect) */
  redetectMs?: number;
}

export const ENGINE_DEFAULTS = {
  killGraceMs: 10 * SECOND,
  tickIntervalMs: 1 * SECOND,
  maxSweep: 10_000,
  idempotencyTtlMs: 1 * DAY,
  batchWindowMs: 0,
  leaseTtlMs: 30 * SECOND,
  leaseGraceMs: 60 * SECOND,
  backstopMs: 30 * DAY,
  finalizeGraceMs: 30 * SECOND,
} as const;
