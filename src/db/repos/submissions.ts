// Inserts one submission (group + runs + stages + jobs + first status events) with multi-row INSERTs
// (multi-insert.ts). Runs are written in batches, and within a batch parents before children (runs,
// then their stages, their jobs, the jobs' first blockers), since the foreign keys are checked at each statement.
import type { Database } from 'bun:sqlite';
import type { NewSubmission, NewRun, StatusEvent } from '../../core/types.ts';
import { multiInsert, CHUNK } from './multi-insert.ts';
export type { NewSubmission };

/** `added` hears of each job and run inserted (the kept counts: job-counts.ts, run-counts.ts). */
export function submissionWriter(db: Database, event: (e: Omit<StatusEvent, 'seq'>) => void,
  added: { job(group: string, executor: string, status: string): void; run(group: string): void } = { job() {}, run() {} }) {
  const insGroup = db.prepare(`INSERT INTO groups (id, pipeline, status, priority, is_sweep, total, trigger, created_at) VALUES ($id, $pipeline, $status, $priority, $is_sweep, $total, $trigger, $created_at)`);
  const runs = multiInsert(db, 'runs', ['id', 'group_id', 'pipeline', 'pipeline_version', 'status', 'priority', 'params', 'trigger', 'workspace', 'dir', 'created_at', 'folder_pending']);
  const stages = multiInsert(db, 'stages', ['id', 'run_id', 'idx', 'name', 'status', 'needs', 'merge']);
  const jobs = multiInsert(db, 'jobs', ['id', 'run_id', 'stage_id', 'group_id', 'stage_idx', 'job_idx', 'name', 'executor', 'status', 'priority', 'created_at', 'queued_at', 'matrix', 'allow_failure']);
  const blockers = multiInsert(db, 'job_blockers', ['job_id', 'at', 'reasons']);
  const all = [runs, stages, jobs, blockers];

  const writeBatch = (s: NewSubmission, batch: NewRun[]) => {
    const at = s.created_at, groupId = s.group.id;
    for (const r of batch) {
      runs.add(r.id, groupId, s.pipeline, r.pipeline_version, 'queued', s.priority, JSON.stringify(r.params), JSON.stringify(r.trigger), r.workspace, r.dir, at, r.folder_pending ? 1 : 0);
      added.run(groupId);
      event({ kind: 'run', id: r.id, run_id: r.id, status: 'queued', at });
    }
    runs.flush();
    for (const r of batch) for (const st of r.stages) stages.add(st.id, r.id, st.idx, st.name, st.status, JSON.stringify(st.needs), st.merge);
    stages.flush();
    for (const r of batch) for (const j of r.jobs) {
      jobs.add(j.id, r.id, j.stage_id, groupId, j.stage_idx, j.job_idx, j.name, j.executor, j.status, s.priority, at, j.queued_at, j.matrix ? JSON.stringify(j.matrix) : null, j.allow_failure ? 1 : 0);
      added.job(groupId, j.executor, j.status);
    }
    jobs.flush();
    for (const r of batch) {
      // a pending job's why-history starts with the stages it waits for (one text per stage, shared)
      let waitingFor: Map<string, string> | null = null;
      for (const j of r.jobs) {
        if (j.status !== 'pending') continue;
        waitingFor ??= new Map(r.stages.map((st) => [st.id, JSON.stringify([{ code: 'waiting_for_stage', message: `waiting for stage ${st.needs.map((n) => `'${n}'`).join(', ')}`, stages: st.needs }])]));
        blockers.add(j.id, at, waitingFor.get(j.stage_id)!);
      }
    }
    blockers.flush();
  };

  return (s: NewSubmission): void => {
    for (const m of all) m.reset(); // rows a failed submission left unflushed are not ours
    insGroup.run({ ...s.group });
    event({ kind: 'group', id: s.group.id, run_id: null, status: s.group.status, at: s.created_at });
    for (let i = 0; i < s.runs.length; i += CHUNK) writeBatch(s, s.runs.slice(i, i + CHUNK));
  };
}
