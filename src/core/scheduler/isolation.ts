// One job's work inside a savepoint: a bug tripped by one row fails that job (reason internal) and never
// stops the transaction for the others. Storage errors still abort the whole transaction.
import { isStorageError } from '../errors.ts';
import { rollUpStage } from './rollup.ts';
import type { Engine } from './engine.ts';

export function isolated<T>(eng: Engine, jobId: string, at: string, fn: () => T): T | null {
  try {
    return eng.transact(() => fn());
  } catch (err) {
    if (isStorageError(err)) throw err;
    eng.reaper.errors++;
    eng.log.error('DroverInternal<tick-row> a job hit an internal error', { jobId, err: String(err), stack: (err as Error).stack });
    const cur = eng.store.getJob(jobId);
    if (cur && (cur.status === 'queued' || cur.status === 'running')) {
      const message = `internal error: ${String(err)}`;
      if (cur.status === 'running') {
        eng.freeSlot(cur); // (an agent's job holds none)
        eng.store.finishAttempt({ job_id: cur.id, attempt: cur.attempt, status: 'failed', reason: 'internal', message, exit_code: null, started_at: cur.started_at, ended_at: at });
      }
      eng.store.transition('jobs', cur.id, cur.status, 'failed', { reason: 'internal', message, ended_at: at, lease_token: null }, { at, attempt: cur.attempt, runId: cur.run_id });
      try { rollUpStage(eng.rollupCtx(at), cur.stage_id); } catch { /* logged above */ }
    }
    return null;
  }
}
