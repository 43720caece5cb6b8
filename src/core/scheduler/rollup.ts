// Roll-up of statuses: job → stage → run → group. When a stage ends, its dependents are promoted
// (all needs succeeded; inputs merged under the merge policy) or skipped (a need did not succeed).
// Runs inside the caller's transaction; returns nothing, records finished runs on `done`.
import type { Store } from '../ports.ts';
import type { StageRow } from '../types.ts';
import { unionOutputs, mergeInputs, type MergePolicy } from './outputs.ts';

export interface RollupCtx {
  store: Store;
  at: string;
  onQueued(groupId: string): void;
  onRunEnded(runId: string): void;
  onGroupEnded(groupId: string): void;
}


export function rollUpStage(ctx: RollupCtx, stageId: string): void {
  const { store, at } = ctx;
  const stage = store.getStage(stageId);
  if (!stage || !['pending', 'running'].includes(stage.status)) return;
  if (store.stageHasActiveJobs(stageId)) return;
  const counts = store.stageJobCounts(stageId);
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  // jobs with `allow_failure: true` (sweep points allowed to fail) do not fail their stage
  if (counts.failed) counts.failed = store.stageFailedJobCount(stageId);
  const to = counts.failed ? 'failed' : counts.canceled ? 'canceled' : (counts.skipped ?? 0) === total && total > 0 ? 'skipped' : 'succeeded';
  let outputs: string | null = null;
  if (to === 'succeeded') {
    // (outputs only: a stage of 100,000 jobs is not read as 100,000 rows)
    outputs = JSON.stringify(unionOutputs(store.jobOutputsOfStage(stageId).map((o) => (o ? JSON.parse(o) : null))));
  }
  const reason = to === 'failed' ? 'job_failed' : to === 'skipped' ? 'upstream_failed' : to === 'canceled' ? 'canceled' : null;
  if (!store.transition('stages', stageId, stage.status, to, { outputs, ended_at: at, reason }, { at, runId: stage.run_id })) return;
  releaseDependents(ctx, stage.run_id);
  rollUpRun(ctx, stage.run_id);
}

/** Promote or skip every pending stage of the run whose needs are all terminal. */
export function releaseDependents(ctx: RollupCtx, runId: string): void {
  const { store, at } = ctx;
  const stages = store.stagesOfRun(runId);
  const byName = new Map(stages.map((s) => [s.name, s]));
  for (const st of stages) {
    if (st.status !== 'pending') continue;
    const needs = (JSON.parse(st.needs) as string[]).map((n) => byName.get(n)!);
    if (needs.length === 0 || needs.some((n) => !n || ['pending', 'running'].includes(n.status))) continue;
    if (needs.every((n) => n.status === 'succeeded')) promote(ctx, st, needs);
    else skip(ctx, st, needs.filter((n) => n.status !== 'succeeded'));
  }
}

function promote(ctx: RollupCtx, st: StageRow, needs: StageRow[]): void {
  const { store, at } = ctx;
  const jobs = store.jobsOfStage(st.id).filter((j) => j.status === 'pending');
  const merged = mergeInputs(needs.map((n) => ({ stage: n.name, outputs: n.outputs ? JSON.parse(n.outputs) : {} })), st.merge as MergePolicy);
  if (!merged.ok) {
    const message = `output '${merged.key}' has conflicting values from stages ${merged.stages.join(', ')} (${merged.values.map((v) => JSON.stringify(v)).join(' vs ')}) and stage '${st.name}' has merge: fail; set merge: first|last|list to combine them`;
    for (const j of jobs) store.transition('jobs', j.id, 'pending', 'failed', { reason: 'output_conflict', message, ended_at: at }, { at, runId: j.run_id });
    rollUpStage(ctx, st.id);
    return;
  }
  for (const j of jobs) {
    if (store.transition('jobs', j.id, 'pending', 'queued', { queued_at: at }, { at, runId: j.run_id })) {
      store.addBlockers(j.id, at, JSON.stringify([]));
      ctx.onQueued(j.group_id);
    }
  }
}

function skip(ctx: RollupCtx, st: StageRow, bad: StageRow[]): void {
  const { store, at } = ctx;
  const message = `skipped: needed stage ${bad.map((b) => `'${b.name}' ${b.status}`).join(', ')}`;
  for (const j of store.jobsOfStage(st.id)) {
    if (j.status === 'pending') store.transition('jobs', j.id, 'pending', 'skipped', { reason: 'upstream_failed', message, ended_at: at }, { at, runId: j.run_id });
  }
  rollUpStage(ctx, st.id);
}

export function rollUpRun(ctx: RollupCtx, runId: string): void {
  const { store, at } = ctx;
  const run = store.getRun(runId);
  if (!run || !['queued', 'running'].includes(run.status)) return;
  if (store.runHasActiveStages(runId)) return;
  const c = store.runStageCounts(runId);
  const to = c.canceled ? 'canceled' : c.failed || c.skipped ? 'failed' : 'succeeded';
  const reason = to === 'failed' ? 'stage_failed' : to === 'canceled' ? 'canceled' : null;
  if (!store.transition('runs', runId, run.status, to, { ended_at: at, reason }, { at, runId })) return;
  ctx.onRunEnded(runId);
  rollUpGroup(ctx, run.group_id);
}

export function rollUpGroup(ctx: RollupCtx, groupId: string): void {
  const { store, at } = ctx;
  const g = store.getGroup(groupId);
  if (!g || !['running', 'paused'].includes(g.status)) return;
  if (store.groupHasActiveRuns(groupId)) return;
  const c = store.groupRunCounts(groupId);
  const to = g.cancel_requested || (c.canceled && !c.failed) ? 'canceled' : c.failed || c.canceled ? 'failed' : 'succeeded';
  if (store.transition('groups', groupId, g.status, to, { ended_at: at }, { at })) ctx.onGroupEnded(groupId);
}
