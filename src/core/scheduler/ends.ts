// The end step: an observed end of an attempt becomes the job's status (or a retry), rolled up to
// stage, run and group. Local exits, Slurm's verdicts and agent completions all end in finishRunning.
import { isoNow } from '../ids.ts';
import { RETRYABLE, backoffDelay } from '../retry.ts';
import { rollUpStage } from './rollup.ts';
import { endTimeOf, verdictOf } from './runner-report.ts';
import type { Observation, ExitOutcome, JobResult } from '../ports.ts';
import type { JobRow } from '../types.ts';
import type { Engine } from './engine.ts';

export function applyObservation(eng: Engine, o: Observation, at: string, now: number): void {
  if (o.state === 'running') return;
  const job = eng.store.getJob(o.jobId);
  if (!job || job.status !== 'running' || job.attempt !== o.attempt) {
    if (o.finalToken) eng.reaper.fenced++;
    eng.log.warn('ignored a stale observation', { jobId: o.jobId, attempt: o.attempt, status: job?.status, finalizer: !!o.finalToken });
    return;
  }
  if (!eng.finals.owns(job, o)) { // a repeat of an end being finalized, or a finalizer the reaper replaced
    eng.reaper.fenced++;
    eng.log.warn('refused an end reported by a finalizer that does not own the job', { jobId: job.id, attempt: job.attempt, late: !!o.finalToken });
    return;
  }
  if (o.state === 'requeued') { requeueInPlace(eng, job, o, at, now); return; }
  if (o.lostReason === 'never_started') {
    // the server died between committing "running" and spawning: the job never ran, so run it now
    eng.freeSlot(job);
    const until = o.retryAfterMs ? now + o.retryAfterMs : null;
    eng.store.transition('jobs', job.id, 'running', 'queued', { started_at: null, handle: null, deadline_at: null, backoff_until: until }, { at, attempt: job.attempt, runId: job.run_id });
    eng.onQueued(job.group_id);
    if (until) eng.wakeAt(until);
    return;
  }
  finishRunning(eng, job, o.result, o.lostReason, at, now, o.outcome);
}

/** The executor restarted the job itself under the same handle (Slurm requeue): this attempt ends, the next
 *  one is running already (running → queued → running in one transaction; no new start, no slot change). */
function requeueInPlace(eng: Engine, job: JobRow, o: Extract<Observation, { state: 'requeued' }>, at: string, now: number): void {
  const { store } = eng;
  o.result?.commands.forEach((c, idx) => store.insertCommand({ job_id: job.id, attempt: job.attempt, idx, ...c }));
  store.finishAttempt({ job_id: job.id, attempt: job.attempt, status: 'failed', reason: o.reason, message: o.message, exit_code: null, started_at: job.started_at, ended_at: at });
  const next = job.attempt + 1;
  const back = { attempt: next, reason: o.reason, message: o.message, handle: JSON.stringify(o.handle), queued_at: at };
  if (!store.transition('jobs', job.id, 'running', 'queued', back, { at, attempt: job.attempt, runId: job.run_id })) return;
  const timeout = eng.catalog.timeoutOf(job);
  store.transition('jobs', job.id, 'queued', 'running', { started_at: at, deadline_at: timeout ? now + timeout : null }, { at, attempt: next, runId: job.run_id });
}

/**
 * The one finalization of an attempt: commands, status (or a retry), roll-up to stage/run/group.
 * Runs inside the caller's transaction; local exits and agent completions both end here.
 */
export function finishRunning(eng: Engine, job: JobRow, r: JobResult, lostReason: string | undefined, at: string, now: number, outcome?: ExitOutcome): void {
  const { store } = eng;
  eng.freeSlot(job);
  r.commands.forEach((c, idx) => store.insertCommand({ job_id: job.id, attempt: job.attempt, idx, ...c }));
  let status: 'succeeded' | 'failed' | 'canceled';
  let reason: string | null = null;
  let message: string | null = null;
  if (job.stop_reason === 'canceled') { status = 'canceled'; reason = 'canceled'; message = 'canceled by request'; }
  else if (job.stop_reason === 'timeout') { status = 'failed'; reason = 'timeout'; message = `timed out after ${eng.catalog.timeoutOf(job)} ms`; }
  else if ((outcome = verdictOf(r) ?? outcome)) { status = outcome.status; reason = outcome.reason; message = outcome.message; }
  else if (r.rc === 0) status = 'succeeded';
  else if (r.rc === null) {
    status = 'failed'; reason = /^(spawn_failed|executor_error)\b/.exec(lostReason ?? '')?.[1] ?? 'lost';
    message = lostReason ?? 'the job ended without reporting a result (killed from outside?)';
  } else {
    status = 'failed'; reason = 'exit_code';
    const failed = r.commands.findIndex((c) => c.exit_code !== null && c.exit_code !== 0);
    message = `command ${failed} exited with code ${r.rc}`;
  }
  if (eng.secrets) { // what a job wrote, and errors quoting it, are stored redacted
    for (const k of Object.keys(r.outputs)) r.outputs[k] = eng.secrets.redactText(r.outputs[k]!);
    if (message) message = eng.secrets.redactText(message);
  }
  const endedAt = endTimeOf(r, job.started_at, at); // the runner's recorded end, not when we noticed it
  const patch = { ended_at: endedAt, exit_code: r.rc, reason, message, outputs: JSON.stringify(r.outputs), lease_token: null };
  store.finishAttempt({ job_id: job.id, attempt: job.attempt, status, reason, message, exit_code: r.rc, started_at: job.started_at, ended_at: endedAt });
  if (status === 'failed' && retry(eng, job, reason!, message!, at, now)) return;
  if (!store.transition('jobs', job.id, 'running', status, patch, { at, attempt: job.attempt, runId: job.run_id })) return;
  rollUpStage(eng.rollupCtx(at), job.stage_id);
}

/** Back to queued with attempt + 1 after a backoff, while the job's and the run's retry budgets allow. */
export function retry(eng: Engine, job: JobRow, reason: string, message: string, at: string, now: number): boolean {
  const spec = eng.catalog.specOfRun(job.run_id);
  const policy = eng.catalog.jobSpecOf(job).retries ?? spec.retries;
  if (!RETRYABLE.has(reason)) return false;
  const lost = reason === 'lost';
  if (lost ? job.lost >= policy.lost : job.failures >= policy.max) return false;
  const budget = spec.retries.budget;
  if (budget !== undefined && eng.store.retriesUsedByRun(job.run_id) >= budget) {
    eng.log.info('run retry budget spent; not retrying', { jobId: job.id, runId: job.run_id, budget });
    return false;
  }
  const failures = job.failures + (lost ? 0 : 1);
  const until = now + backoffDelay(policy, failures + job.lost + (lost ? 1 : 0));
  const ok = eng.store.transition('jobs', job.id, 'running', 'queued', {
    attempt: job.attempt + 1, failures, lost: job.lost + (lost ? 1 : 0), backoff_until: until, queued_at: at,
    reason, message: `${message}; retrying (attempt ${job.attempt + 1})`, handle: null, stop_reason: null, deadline_at: null, exit_code: null,
    lease_token: null, lease_expires_at: null,
  }, { at, attempt: job.attempt, runId: job.run_id });
  if (ok) {
    eng.store.addBlockers(job.id, at, JSON.stringify([{ code: 'backoff_until', message: `retry backoff until ${isoNow(until)}`, until: isoNow(until) }]));
    eng.onQueued(job.group_id);
    eng.wakeAt(until);
  }
  return ok;
}
