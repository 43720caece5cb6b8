// How the engine's helpers reach back into it: the hosts of the reaper, adoption, the after-commit
// runner and the run-folder pump, built once in the engine's constructor; and the executors' start-up.
import type { Handle, Observation } from '../ports.ts';
import type { Engine } from './engine.ts';
import type { EngineDeps } from './engine-deps.ts';
import { Reaper } from './reaper.ts';
import { retry } from './ends.ts';
import { RunFolders } from './run-folders.ts';
import type { AdoptionHost } from './adoption.ts';
import type { AfterCommitDeps } from './after-commit.ts';

type HandleNote = { jobId: string; attempt: number; handle: Handle };

/** What the engine keeps private and its helpers need: its inboxes, and how a new handle is recorded. */
export interface EngineInbox {
  observe(o: Observation): void;
  /** a handle for the next tick, at once (adoption) */
  handle(h: HandleNote): void;
  /** a handle of a job just started: stored soon (see the engine's HANDLE_WAIT_MS) */
  recordHandle(h: HandleNote): void;
}

export function wireEngine(eng: Engine, d: EngineDeps, inbox: EngineInbox) {
  const launch = { executors: d.executors, log: d.log, started: inbox.recordHandle, failed: (o: Observation) => eng.deliver(o) };
  const afterCommit: AfterCommitDeps = { executors: d.executors, log: d.log, killGraceMs: d.config.killGraceMs, launch, secrets: d.secrets, logGate: d.logGate, onResult: d.onResult };
  const adoption: AdoptionHost = {
    store: d.store, executors: d.executors, ledger: eng.ledger, catalog: eng.catalog, log: d.log,
    limited: (e) => eng.limited(e), now: () => eng.clock.now(), stopped: () => eng.stopped,
    observe: inbox.observe, recordHandle: inbox.handle,
  };
  const reaper = new Reaper({
    store: d.store, config: d.config, log: d.log, finals: eng.finals, executors: d.executors, logGate: d.logGate, catalog: eng.catalog,
    now: () => eng.clock.now(), isolated: (jobId, at, fn) => eng.isolated(jobId, at, fn), rollupCtx: (at) => eng.rollupCtx(at),
    retry: (job, reason, message, at, now) => retry(eng, job, reason, message, at, now), freeSlot: (job) => eng.freeSlot(job),
    effects: () => eng.effects(), transact: (fn) => eng.transact(fn), deliver: (o) => eng.deliver(o), recordHandleLater: inbox.recordHandle,
  }, eng.reaper);
  const folders = new RunFolders({
    store: d.store, transact: (fn) => eng.transact(fn), warn: (m, f) => d.log.warn(m, f),
    made: () => { eng.ready.unpark(); eng.wake(); },
    // (failpoint run_folders: tests hold the folders back, to kill -9 the server before they are made)
    mayRun: () => !eng.stopped && !d.failpoints?.has('run_folders'),
  });
  return { afterCommit, adoption, reaper, folders };
}

/** Each executor gets its hooks (ends, stats, a logger), then is asked for its capacity. */
export async function initExecutors(eng: Engine): Promise<void> {
  for (const [name, ex] of eng.executors) {
    ex.init?.({
      notify: (o) => eng.deliver(o),
      recordStats: (jobId, attempt, stats) => {
        try { eng.store.setJobStats(jobId, attempt, JSON.stringify(stats)); } catch (err) { eng.log.warn('could not store job stats', { jobId, err: String(err) }); }
      },
      log: eng.log.scope({ executor: name }),
    });
    await eng.capacity.detect(name, ex);
  }
}
