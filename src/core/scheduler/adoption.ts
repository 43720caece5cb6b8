// After a restart: jobs that were running when the previous server died are re-adopted (none lost,
// none run twice), and executors that cannot tell of an exit (Slurm) are polled in one batched call.
import { lostEnd } from '../observations.ts';
import { ExecutorError } from '../errors.ts';
import type { Executor, Handle, Logger, Observation, Store } from '../ports.ts';
import type { SlotLedger } from './slot-ledger.ts';
import type { SpecCatalog } from './spec-catalog.ts';

export interface AdoptionHost {
  store: Store; executors: Map<string, Executor>; ledger: SlotLedger; catalog: SpecCatalog; log: Logger;
  limited(executor: string): boolean;
  now(): number;
  observe(o: Observation): void;
  recordHandle(h: { jobId: string; attempt: number; handle: Handle }): void;
  stopped(): boolean;
}

/** The ledger is rebuilt from the database's running set; each local job's executor says if it still runs. */
export async function adoptRunning(h: AdoptionHost): Promise<void> {
  const now = h.now();
  for (const job of h.store.jobsWithStatus('running')) {
    if (job.lease_token) continue; // held by a remote agent: its lease decides
    h.ledger.hold(job.id, { executor: job.executor, limited: h.limited(job.executor), since: now });
    const ex = h.executors.get(job.executor);
    if (job.device && ex?.readmit) ex.readmit(job.id, JSON.parse(job.device));
    if (job.final_token) continue; // its end was observed already; its finalization is the reaper's (tier b)
    const handle = h.catalog.handleOf(job);
    if (!ex?.adopt) { h.observe(lostEnd(job.id, job.attempt, `executor '${job.executor}' cannot re-adopt jobs`)); continue; }
    const obs = await ex.adopt(job.id, job.attempt, handle).catch((e) => lostEnd(job.id, job.attempt, e instanceof ExecutorError ? `executor_error: ${e.message}` : String(e)));
    h.log.info('re-adopted job', { jobId: job.id, state: obs.state });
    if (obs.state !== 'running') h.observe(obs);
    else if (obs.handle) h.recordHandle({ jobId: job.id, attempt: job.attempt, handle: obs.handle });
  }
  h.ledger.commit(); // the ledger now mirrors the database's running set
}

/** Executors that cannot tell us of an exit (Slurm) are polled: one batched call for all their jobs. */
export function pollLoop(h: AdoptionHost, name: string, ex: Executor): void {
  const again = () => { if (!h.stopped()) setTimeout(run, ex.pollIntervalMs!()).unref?.(); };
  const run = async () => {
    let jobs: { id: string; attempt: number; handle: string | null }[] = [];
    try {
      jobs = h.store.runningJobsOf(name).filter((j) => j.handle && !j.final_token); // (an end being finalized is not polled again)
      if (jobs.length) {
        const obs = await ex.poll(jobs.map((j) => ({ jobId: j.id, attempt: j.attempt, handle: JSON.parse(j.handle!) as Handle })));
        for (const o of obs) if (o.state !== 'running') h.observe(o);
      }
    } catch (err) {
      // the executor's own poll threw or hung: the jobs it was asked about fail (a transient backend
      // trouble is the executor's to absorb: it answers `running` and says why in explain())
      if (err instanceof ExecutorError) for (const j of jobs) h.observe(lostEnd(j.id, j.attempt, `executor_error: ${err.message}`));
      else h.log.warn('executor poll failed; will retry', { executor: name, err: String(err) });
    }
    again();
  };
  again();
}
