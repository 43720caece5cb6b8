// Slurm job states → what drover does with them: an exhaustive table of every base state Slurm
// 22.05 reports (squeue %T / -O State, sacct State), plus the classifier used by the poller.
// Active states keep the job `running` in drover (Slurm's PENDING included: the job is submitted).
// Terminal states say how the attempt ended; `runner` means "the job.sh result decides" (its exit code).
// An unmapped state is logged once: while squeue still lists the job it keeps being watched; once it
// has left the queue it fails with reason `slurm:<STATE>` (like HyperQueue's `_ => bail!`).

export type SlurmPhase = 'pending' | 'running';

export type StateRule =
  | { kind: 'active'; phase: SlurmPhase }
  /** the runner's own result decides (exit code); without one the attempt failed as `slurm:<STATE>` */
  | { kind: 'runner' }
  | { kind: 'canceled' }
  /** failed with `reason`; retryable when the engine's retry policy knows the reason (timeout, lost) */
  | { kind: 'failed'; reason: string; message: string };

export const SLURM_STATES = {
  PENDING: { kind: 'active', phase: 'pending' },
  CONFIGURING: { kind: 'active', phase: 'pending' },
  REQUEUED: { kind: 'active', phase: 'pending' },
  REQUEUE_FED: { kind: 'active', phase: 'pending' },
  REQUEUE_HOLD: { kind: 'active', phase: 'pending' },
  RESV_DEL_HOLD: { kind: 'active', phase: 'pending' },
  RUNNING: { kind: 'active', phase: 'running' },
  COMPLETING: { kind: 'active', phase: 'running' },
  RESIZING: { kind: 'active', phase: 'running' },
  SIGNALING: { kind: 'active', phase: 'running' },
  STAGE_OUT: { kind: 'active', phase: 'running' },
  STOPPED: { kind: 'active', phase: 'running' },
  SUSPENDED: { kind: 'active', phase: 'running' },
  COMPLETED: { kind: 'runner' },
  FAILED: { kind: 'runner' },
  CANCELLED: { kind: 'canceled' },
  TIMEOUT: { kind: 'failed', reason: 'timeout', message: 'Slurm TIMEOUT: the job ran past its time limit (--time)' },
  DEADLINE: { kind: 'failed', reason: 'slurm:DEADLINE', message: 'Slurm DEADLINE: the job could not finish before its --deadline' },
  OUT_OF_MEMORY: { kind: 'failed', reason: 'slurm:OUT_OF_MEMORY', message: 'Slurm OUT_OF_MEMORY: the job used more memory than it asked for (--mem)' },
  NODE_FAIL: { kind: 'failed', reason: 'lost', message: 'slurm:NODE_FAIL: the node running the job failed' },
  BOOT_FAIL: { kind: 'failed', reason: 'lost', message: 'slurm:BOOT_FAIL: the node failed to boot' },
  PREEMPTED: { kind: 'failed', reason: 'lost', message: 'slurm:PREEMPTED: the job was preempted (and not requeued by Slurm)' },
  REVOKED: { kind: 'failed', reason: 'lost', message: 'slurm:REVOKED: a federated sibling cluster took the job' },
  SPECIAL_EXIT: { kind: 'failed', reason: 'slurm:SPECIAL_EXIT', message: 'Slurm SPECIAL_EXIT: the job was requeued in a held state after a special exit' },
} as const satisfies Record<string, StateRule>;

export type SlurmState = keyof typeof SLURM_STATES;

const warned = new Set<string>();

/** The base state of a squeue/sacct State field: `CANCELLED by 0` → `CANCELLED`, `RUNNING+` → `RUNNING`. */
export function baseState(raw: string): string {
  return raw.trim().split(/[\s+]/)[0]!.toUpperCase();
}

/** The rule for a state; null (logged once through `warn`) when Slurm reports a state this table lacks. */
export function ruleFor(raw: string, warn?: (state: string) => void): StateRule | null {
  const s = baseState(raw);
  const rule = (SLURM_STATES as Record<string, StateRule>)[s];
  if (rule) return rule;
  if (!warned.has(s)) { warned.add(s); warn?.(s); }
  return null;
}

export const isActive = (raw: string): boolean => ruleFor(raw)?.kind === 'active';
