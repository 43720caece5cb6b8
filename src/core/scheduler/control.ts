// What users ask of the scheduler: submit (with idempotency), cancel run/job/group, pause and
// resume groups, retry a run. Each change is one transaction; executors are signalled after it.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { DroverError, isStorageError } from '../errors.ts';
import { rollUpStage, rollUpGroup } from './rollup.ts';
import { isoNow } from '../ids.ts';
import { loadSpec, pipelineVersionFor, planSubmission, preview, specHash, type SubmitInput } from '../submit.ts';
import { groupView, runSummary, runView, runViewJson, runSummariesJson } from '../views.ts';
import { JsonParts } from '../json-parts.ts';
import type { Engine } from './engine.ts';
import type { JobRow } from '../types.ts';
import { checkSpecSecrets } from '../secrets/check.ts';
import { EAGER_FOLDERS, runJsonText, specSnapshot, writeRunFolder } from '../run-folder.ts';

function storageOr(err: unknown, action: string): never {
  if (isStorageError(err)) throw new DroverError('storage_unavailable', `storage unavailable while ${action}: ${(err as Error).message} (reads still work; nothing was written)`, { action });
  throw err;
}

/** `parts`: the answer as JSON text in pieces (json-parts.ts; the HTTP route streams them), else an object. */
export function submit(eng: Engine, input: SubmitInput, opts: { dryRun?: boolean; idempotencyKey?: string; bodyHash?: string; parts?: boolean } = {}) {
  const { store, config } = eng;
  const now = eng.clock.now();
  if (opts.idempotencyKey) {
    store.idemPurge(now - config.idempotencyTtlMs);
    const prior = store.idemGet(opts.idempotencyKey);
    if (prior) {
      if (prior.body_hash !== opts.bodyHash) throw new DroverError('idempotency_conflict', `Idempotency-Key '${opts.idempotencyKey}' was used with a different body`, { key: opts.idempotencyKey });
      return { replayed: true, body: JSON.parse(prior.response) };
    }
  }
  const { spec, raw } = loadSpec(store, input, eng.validateOptions());
  checkSpecSecrets(spec, eng.secrets);
  const { version, isNew } = pipelineVersionFor(store, spec.name, raw);
  const plan = planSubmission(spec, version, input, { runsDir: config.runsDir, workspaceRoot: config.workspaceRoot, maxSweep: config.maxSweep, now });
  if (opts.dryRun) return { replayed: false, body: preview(plan) };
  const made: string[] = [];
  let body: unknown;
  const { runs, group, created_at: createdAt } = plan.submission;
  // the first runs' folders now; a big sweep's others after the answer (folder_pending: run-folders.ts)
  const later = runs.slice(EAGER_FOLDERS);
  for (const r of later) r.folder_pending = true;
  try {
    const snapshot = JSON.stringify(specSnapshot(raw));
    for (let i = 0; i < Math.min(runs.length, EAGER_FOLDERS); i++) {
      const r = runs[i]!;
      made.push(r.dir);
      writeRunFolder(r.dir, runJsonText({ id: r.id, pipeline: spec.name, version, groupId: group.id, params: JSON.stringify(r.params), trigger: JSON.stringify(r.trigger), createdAt }, snapshot));
    }
    eng.transact((fx) => {
      if (later.length) eng.folders.add(fx, later.map((r) => r.id));
      fx.onRollback(eng.catalog.prime(spec.name, version, spec));
      if (isNew) store.pipelineInsert({ name: spec.name, version, spec: JSON.stringify(raw), spec_hash: specHash(raw), created_at: plan.submission.created_at });
      store.insertSubmission(plan.submission);
      const row = store.getGroup(group.id)!;
      const run = plan.isSweep ? null : store.getRun(runs[0]!.id)!;
      if (opts.parts) {
        // built inside the transaction (the answer is the state it committed), a row at a time
        const out = new JsonParts(run ? { run: { id: run.id, pipeline: run.pipeline } } : { group: { id: row.id, pipeline: row.pipeline } });
        if (run) { out.push('{"run":'); runViewJson(eng, run, out); } else { out.push(`{"group":${JSON.stringify(groupView(store, row))},"runs":`); runSummariesJson(store, row.id, out); }
        out.push('}');
        body = out.end();
      } else {
        body = run ? { run: runView(eng, run) } : { group: groupView(store, row), runs: store.runsOfGroup(row.id).map(runSummary) };
      }
      if (opts.idempotencyKey) store.idemPut(opts.idempotencyKey, opts.bodyHash ?? '', body instanceof JsonParts ? body.text() : JSON.stringify(body), now);
      eng.onQueued(plan.submission.group.id);
    });
  } catch (err) {
    for (const d of made) rmSync(d, { recursive: true, force: true });
    storageOr(err, 'accepting the submission');
  }
  eng.wake();
  return { replayed: false, body };
}


/** Cancel the given jobs: waiting ones at once, running ones by signal (status set when they exit). */
function cancelJobs(eng: Engine, jobs: JobRow[], at: string): void {
  const { store } = eng;
  const stages = new Set<string>();
  for (const j of jobs) {
    if (j.status === 'pending' || j.status === 'queued') {
      if (store.transition('jobs', j.id, j.status, 'canceled', { reason: 'canceled', message: 'canceled by request', ended_at: at }, { at, runId: j.run_id })) stages.add(j.stage_id);
    } else if (j.status === 'running' && !j.stop_reason) {
      store.setJobFields(j.id, j.attempt, { stop_reason: 'canceled' });
      if (j.handle) eng.effects().cancel(JSON.parse(j.handle));
    }
  }
  const ctx = eng.rollupCtx(at);
  for (const s of stages) rollUpStage(ctx, s);
}

/** One user action: one transaction, its effects (signals, result files, events) after the commit. */
function mutate<T>(eng: Engine, action: string, fn: (at: string) => T): T {
  const at = isoNow(eng.clock.now());
  let out: T;
  try { out = eng.transact(() => fn(at)); } catch (err) { storageOr(err, action); }
  eng.wake();
  return out!;
}

export function cancelRun(eng: Engine, runId: string) {
  const run = eng.store.getRun(runId);
  if (!run) throw new DroverError('not_found', `no run ${runId}`);
  mutate(eng, 'canceling the run', (at) => cancelJobs(eng, eng.store.jobsOfRun(runId), at));
  return runSummary(eng.store.getRun(runId)!);
}

export function cancelJob(eng: Engine, jobId: string) {
  const job = eng.store.getJob(jobId);
  if (!job) throw new DroverError('not_found', `no job ${jobId}`);
  mutate(eng, 'canceling the job', (at) => cancelJobs(eng, [job], at));
  return eng.store.getJob(jobId)!;
}

export function cancelGroup(eng: Engine, groupId: string) {
  const g = eng.store.getGroup(groupId);
  if (!g) throw new DroverError('not_found', `no group ${groupId}`);
  mutate(eng, 'canceling the group', (at) => {
    if (['running', 'paused'].includes(g.status)) eng.store.requestGroupCancel(groupId);
    for (const status of ['pending', 'queued', 'running']) cancelJobs(eng, eng.store.jobsOfGroupWithStatus(groupId, status), at);
    rollUpGroup(eng.rollupCtx(at), groupId);
    eng.effects().afterCommit(() => eng.ready.drop(groupId));
  });
  return groupView(eng.store, eng.store.getGroup(groupId)!);
}

export function pauseGroup(eng: Engine, groupId: string) {
  const g = eng.store.getGroup(groupId);
  if (!g) throw new DroverError('not_found', `no group ${groupId}`);
  if (g.status === 'running') {
    mutate(eng, 'pausing the group', (at) => {
      if (eng.store.transition('groups', groupId, 'running', 'paused', {}, { at })) {
        eng.store.addBlockersForGroupQueued(groupId, at, JSON.stringify([{ code: 'group_paused', message: `group ${groupId} is paused` }]));
      }
      eng.effects().afterCommit(() => eng.ready.drop(groupId));
    });
  } else if (g.status !== 'paused') {
    throw new DroverError('conflict', `group ${groupId} is ${g.status}; only a running group can be paused`, { status: g.status });
  }
  return groupView(eng.store, eng.store.getGroup(groupId)!);
}

export function resumeGroup(eng: Engine, groupId: string) {
  const g = eng.store.getGroup(groupId);
  if (!g) throw new DroverError('not_found', `no group ${groupId}`);
  if (g.status === 'paused') {
    mutate(eng, 'resuming the group', (at) => {
      if (eng.store.transition('groups', groupId, 'paused', 'running', {}, { at })) {
        eng.store.addBlockersForGroupQueued(groupId, at, '[]');
      }
      eng.onQueued(groupId);
    });
  } else if (g.status !== 'running') {
    throw new DroverError('conflict', `group ${groupId} is ${g.status}; only a paused group can be resumed`, { status: g.status });
  }
  return groupView(eng.store, eng.store.getGroup(groupId)!);
}

/**
 * Retry a finished failed/canceled run in place: its failed, canceled and skipped stages and jobs
 * re-open (jobs that ran get attempt + 1 and a fresh retry budget); what succeeded is kept, so a
 * 10-hour first stage is not run again because the last one failed.
 */
export function retryRun(eng: Engine, runId: string) {
  const { store } = eng;
  const run = store.getRun(runId);
  if (!run) throw new DroverError('not_found', `no run ${runId}`);
  if (!['failed', 'canceled'].includes(run.status)) throw new DroverError('conflict', `run ${runId} is ${run.status}; only a failed or canceled run can be retried`, { status: run.status });
  mutate(eng, 'retrying the run', (at) => {
    const stages = store.stagesOfRun(runId);
    const reopened = new Set<string>();
    for (const st of stages) {
      if (!['failed', 'canceled', 'skipped'].includes(st.status)) continue;
      store.transition('stages', st.id, st.status, 'pending', { reason: null, message: null, outputs: null, started_at: null, ended_at: null }, { at, runId });
      reopened.add(st.name);
    }
    const ready = (stageIdx: number) => (JSON.parse(stages[stageIdx]!.needs) as string[]).every((n) => !reopened.has(n));
    for (const j of store.jobsOfRun(runId)) {
      if (!['failed', 'canceled', 'skipped'].includes(j.status)) continue;
      const ran = j.status !== 'skipped' && j.started_at !== null;
      const to = ready(j.stage_idx) ? 'queued' : 'pending';
      store.transition('jobs', j.id, j.status, to, {
        attempt: ran ? j.attempt + 1 : j.attempt, failures: 0, lost: 0, reason: null, message: null, exit_code: null,
        started_at: null, ended_at: null, stop_reason: null, handle: null, outputs: null, deadline_at: null, backoff_until: null,
        queued_at: to === 'queued' ? at : null,
      }, { at, attempt: j.attempt, runId });
    }
    store.transition('runs', runId, run.status, 'running', { reason: null, message: null, ended_at: null }, { at, runId });
    const g = store.getGroup(run.group_id)!;
    if (g.status === 'failed' || g.status === 'canceled') store.transition('groups', g.id, g.status, 'running', { ended_at: null, cancel_requested: 0 }, { at });
    eng.onQueued(run.group_id);
    // the run is open again: its result (and the signature of it) is written anew when it ends
    eng.effects().afterCommit(() => { for (const f of ['result.json', 'attestation.json']) rmSync(join(run.dir, f), { force: true }); });
  });
  return runView(eng, store.getRun(runId)!);
}
