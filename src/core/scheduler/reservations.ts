// An executor's reservation (GPUs) of a job that no longer runs here goes back inside the transaction
// when the executor can re-reserve it (readmit): a job admitted later in the same transaction can then
// have it, instead of waiting a tick while `why` already calls the device free. A rollback re-reserves
// it. Executors without readmit get theirs back after the commit (fx.release).
import type { Executor } from '../ports.ts';
import type { JobRow } from '../types.ts';
import type { TxEffects } from './tx-effects.ts';

export function giveBack(fx: TxEffects, ex: Executor | undefined, job: Pick<JobRow, 'id' | 'executor' | 'device'>, wake: () => void): void {
  if (ex?.release && ex.readmit && job.device) {
    const device = JSON.parse(job.device) as Record<string, unknown>;
    ex.release(job.id);
    fx.onRollback(() => ex.readmit!(job.id, device));
    fx.afterCommit(wake); // a queued job may fit now
  } else if (ex?.release) fx.release(job.executor, job.id); // (none to give back: no wake-up for it either)
}
