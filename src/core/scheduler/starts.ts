// The scheduler's start step: ready jobs by priority, then round-robin across groups, then FIFO, while
// the admission gates (gates.ts) and the executor's own admission (GPUs) let them; and startOne, the
// one way a queued job becomes running — for the local dispatcher and for a remote agent's claim alike.
import { mergeInputs, type MergePolicy } from './outputs.ts';
import { prepareJob, writeJobFiles, PrepareFailure } from './prepare.ts';
import { needsDoc } from './needs.ts';
import { rollUpStage } from './rollup.ts';
import { firstBlocker, groupPaused, maxParallel, lazyRun, GATES, NOTED, type Gate } from './gates.ts';
import type { Admission, Blocker } from '../ports.ts';
import type { JobRow } from '../types.ts';
import type { Engine } from './engine.ts';
import type { Start, TxEffects } from './tx-effects.ts';

/** queued jobs read per group when its head cannot start (held by a GPU, agent-only…); the head is
 *  read alone first, since a start almost always takes it and every row read costs */
const WINDOW = 8;
/** per job: the group was checked once (groupPaused), and backoffs are filtered by the query */
const JOB_GATES: Gate[] = GATES.filter((g) => g !== groupPaused);

export function startWithinLimits(eng: Engine, fx: TxEffects, at: string, now: number, periodic: boolean): void {
  const { ready, ledger, config } = eng;
  let ownQueueStarted = false;
  const view = eng.gateView(now);
  while (ready.size > 0 && (ledger.limited < config.maxParallel || (!eng.ownQueueIdle && eng.ownQueueRoom()))) {
    const groupId = ready.pick();
    if (!groupId) break;
    if (eng.store.getGroup(groupId)?.status !== 'running') { ready.drop(groupId); continue; } // paused or ended
    // all its queued jobs wait for remote agents (kept counts): nothing to read or start here; back on
    // the next rebuild or when more of its jobs are queued (a slot freeing here changes nothing for it)
    if (eng.store.queuedCount(groupId) === eng.store.queuedCount(groupId, 'agent')) { ready.park(groupId, null); continue; }
    // max_parallel reached: only jobs of ownQueue executors (Slurm) may start, so read only those
    const only = ledger.limited >= config.maxParallel ? eng.ownQueueExecutors() : undefined;
    const candidates = eng.store.nextQueued(groupId, 1, now, only);
    let started: Start | null | 'none' = 'none';
    for (const j of candidatesOf(eng, groupId, candidates, now, only)) {
      const refused = firstBlocker(view, j, lazyRun(eng.store, j.run_id), JOB_GATES);
      if (refused) {
        if (refused.blocker.fail) { started = failQueued(eng, j, refused.blocker, at); break; }
        if (NOTED.has(refused.gate)) eng.blockers.note(j, at, refused.blocker);
        continue;
      }
      const admission = admit(eng, fx, j, at);
      if (admission === 'blocked') continue;
      started = admission === 'failed' ? null : eng.isolated(j.id, at, () => startOne(eng, j, at, now, admission));
      break;
    }
    if (started === 'none') {
      // nothing startable now; back when a slot frees (parked) or on rebuild
      ready.park(groupId, candidates.length || only ? eng.store.getGroup(groupId)?.priority ?? 0 : null); // (`only`: it may hold other jobs)
      continue;
    }
    ready.markServed(groupId); // (the group may just have ended and left the ready set)
    if (started) { fx.start(started); if (!eng.limited(started.job.executor)) ownQueueStarted = true; }
  }
  // a full pass found nothing for Slurm & co. while max_parallel was reached: skip such passes until new
  // work is queued or such a job ends (else every local completion would scan every waiting group)
  if (ledger.limited >= config.maxParallel && !ownQueueStarted) eng.ownQueueIdle = true;
  if (periodic && ledger.limited >= config.maxParallel) noteLimitBlockers(eng, at, now);
}

/**
 * The queued jobs of a group to try, in order: the head, then (read only when the head was held back:
 * every GPU busy, agent-only…) a small window, and only when all of those were held a wider one, so
 * held jobs never block the jobs queued behind them.
 */
function* candidatesOf(eng: Engine, groupId: string, head: JobRow[], now: number, only?: readonly string[]): Generator<JobRow> {
  yield* head;
  if (head.length === 0) return;
  const window = eng.store.nextQueued(groupId, WINDOW, now, only);
  yield* window.slice(head.length);
  if (window.length === WINDOW) yield* eng.store.nextQueued(groupId, 1024, now, only).slice(WINDOW);
}

function failQueued(eng: Engine, job: JobRow, b: Blocker, at: string): null {
  if (eng.store.transition('jobs', job.id, 'queued', 'failed', { reason: b.code, message: b.message, ended_at: at }, { at, runId: job.run_id })) {
    eng.log.warn('job failed before start', { jobId: job.id, reason: b.code, message: b.message });
    rollUpStage(eng.rollupCtx(at), job.stage_id);
  }
  return null;
}

/** Ask the job's executor to reserve what it needs; 'blocked' keeps it queued, 'failed' has failed it. */
function admit(eng: Engine, fx: TxEffects, job: JobRow, at: string): Admission | 'blocked' | 'failed' | null {
  const ex = eng.executors.get(job.executor);
  if (!ex?.admit) return null;
  const a = ex.admit({ jobId: job.id, attempt: job.attempt, resources: eng.catalog.jobSpecOf(job).resources });
  if (a.ok) {
    fx.onRollback(() => ex.release?.(job.id)); // a rolled-back start gives its reservation back
    return a;
  }
  if (a.fail) { failQueued(eng, job, a.blocker, at); return 'failed'; }
  eng.blockers.note(job, at, a.blocker);
  return 'blocked';
}

/**
 * Start one queued job: checks, job folder, queued → running, roll-up. `lease` makes it a remote
 * agent's claim instead: a portable script, and a lease token + expiry instead of a local process.
 * Runs inside a transaction; the caller launches the result after the commit (fx.start).
 */
export function startOne(eng: Engine, job: JobRow, at: string, now: number, admission: Admission | null = null, lease?: { token: string; expiresAt: number }): Start | null {
  const { store } = eng;
  const run = store.getRun(job.run_id)!;
  if (run.folder_pending) eng.folders.makeNow(eng.effects(), run); // (a remote agent's claim may come first)
  const granted = admission && admission.ok ? admission : null;
  const release = () => { if (granted) eng.executors.get(job.executor)?.release?.(job.id); };
  const fail = (reason: string, message: string) => { release(); return failQueued(eng, job, { code: reason, message }, at); };
  if (!lease && !eng.executors.has(job.executor)) return fail('executor_unavailable', `executor '${job.executor}' is not loaded in this server`);
  const spec = eng.catalog.specOfRun(run.id);
  const stages = store.stagesOfRun(run.id);
  let inputs: Record<string, unknown> = {};
  const st = stages[job.stage_idx]!;
  const needs = JSON.parse(st.needs) as string[];
  if (needs.length) {
    const m = mergeInputs(stages.filter((s) => needs.includes(s.name)).map((s) => ({ stage: s.name, outputs: s.outputs ? JSON.parse(s.outputs) : {} })), st.merge as MergePolicy);
    if (m.ok) inputs = m.inputs;
  }
  let prepared;
  try {
    prepared = prepareJob(job, run, spec, stages, inputs, { workspaceRoot: eng.config.workspaceRoot, extraEnv: granted?.env, preamble: granted?.logLine, portable: !!lease, secrets: eng.secrets, needs: needsDoc(store, stages, needs), inlineLast: !lease && !!eng.executors.get(job.executor)?.signalsProcessGroup });
    writeJobFiles(prepared);
  } catch (err) {
    if (err instanceof PrepareFailure) return fail(err.reason, err.message);
    release();
    throw err; // storage trouble: abort the transaction, nothing is committed
  }
  const deadline = prepared.timeoutMs ? now + prepared.timeoutMs : null;
  const device = granted?.device ? JSON.stringify(granted.device) : null;
  const leaseFields = lease ? { lease_token: lease.token, lease_expires_at: lease.expiresAt } : {};
  if (!store.transition('jobs', job.id, 'queued', 'running', { started_at: at, deadline_at: deadline, backoff_until: null, handle: null, device, ...leaseFields }, { at, attempt: job.attempt, runId: job.run_id })) {
    release();
    return null;
  }
  eng.blockers.started(job, at);
  if (st.status === 'pending') store.transition('stages', st.id, 'pending', 'running', { started_at: at }, { at, runId: run.id });
  if (run.status === 'queued') store.transition('runs', run.id, 'queued', 'running', { started_at: at }, { at, runId: run.id });
  if (!lease) eng.holdSlot(job, now); // agents' jobs run on their machines, outside every local limit
  return { prepared, job };
}

/** Record (once per change) that the heads of waiting groups are held by max_parallel. */
function noteLimitBlockers(eng: Engine, at: string, now: number): void {
  const view = eng.gateView(now);
  for (const groupId of eng.ready.groups()) {
    const head = eng.store.nextQueued(groupId, 1, now)[0];
    if (!head) continue;
    const b = maxParallel(view, head, () => null);
    // signed by the limit alone: a history entry per change of the running count would be noise
    if (b) eng.blockers.note(head, at, b, `max_parallel:${eng.config.maxParallel}`);
  }
}
