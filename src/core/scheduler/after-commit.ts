// What a committed transaction's effects do, in this order: reservations given back, result.json of
// runs that ended, after-commit callbacks, executor cancels, wake-ups of the agent broker, status
// events, then the starts (launched off the transaction). A rolled-back transaction never gets here.
import type { Executor, Logger } from '../ports.ts';
import type { RunRow } from '../types.ts';
import type { SecretsView } from '../secrets/types.ts';
import type { LogGate } from '../redact/pool.ts';
import type { TxEffects } from './tx-effects.ts';
import { writeRunResult } from './result.ts';
import { launchAll, type LaunchHost } from './launcher.ts';
import type { Engine } from './engine.ts';

export interface AfterCommitDeps {
  executors: Map<string, Executor>; log: Logger; killGraceMs: number; launch: LaunchHost;
  secrets?: SecretsView; logGate?: LogGate; onResult?: (run: RunRow, sha256: string) => void;
}

export function runEffects(eng: Engine, d: AfterCommitDeps, fx: TxEffects): void {
  for (const r of fx.releases) {
    try { d.executors.get(r.executor)?.release?.(r.jobId); } catch (err) { d.log.warn('executor release failed', { jobId: r.jobId, err: String(err) }); }
  }
  for (const runId of fx.runsEnded) writeRunResult(eng, runId, d.log, d.secrets, d.onResult);
  for (const fn of fx.after) fn();
  for (const handle of fx.cancels) {
    d.executors.get(handle.executor)?.cancel(handle, { graceMs: d.killGraceMs }).catch((e) => d.log.warn('cancel failed', { err: String(e) }));
  }
  if (fx.queuedGroups.length) for (const l of eng.queuedListeners) l();
  eng.publishEvents();
  if (d.logGate) for (const s of fx.starts) d.logGate.started(s.prepared);
  launchAll(d.launch, fx.starts);
  if (fx.releases.length && !eng.stopped) eng.wake(); // a reservation given back may let a held job start
}
