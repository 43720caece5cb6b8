// Inserts one submission (group + runs + stages + jobs + first status events) with prepared statements.
import type { Database } from 'bun:sqlite';
import type { NewSubmission, StatusEvent } from '../../core/types.ts';
export type { NewSubmission };

/** `added` hears of each job and run inserted (the kept counts: job-counts.ts, run-counts.ts). */
export function submissionWriter(db: Database, event: (e: Omit<StatusEvent, 'seq'>) => void,
  added: { job(group: string, executor: string, status: string): void; run(group: string): void } = { job() {}, run() {} }) {
  const insGroup = db.prepare(`INSERT INTO groups (id, pipeline, status, priority, is_sweep, total, trigger, created_at) VALUES ($id, $pipeline, $status, $priority, $is_sweep, $total, $trigger, $created_at)`);
  const insRun = db.prepare(`INSERT INTO runs (id, group_id, pipeline, pipeline_version, status, priority, params, trigger, workspace, dir, created_at) VALUES ($id, $group_id, $pipeline, $pipeline_version, 'queued', $priority, $params, $trigger, $workspace, $dir, $created_at)`);
  const insStage = db.prepare(`INSERT INTO stages (id, run_id, idx, name, status, needs, merge) VALUES ($id, $run_id, $idx, $name, $status, $needs, $merge)`);
  const insJob = db.prepare(`INSERT INTO jobs (id, run_id, stage_id, group_id, stage_idx, job_idx, name, executor, status, priority, created_at, queued_at, matrix, allow_failure) VALUES ($id, $run_id, $stage_id, $group_id, $stage_idx, $job_idx, $name, $executor, $status, $priority, $created_at, $queued_at, $matrix, $allow_failure)`);
  const insBlocker = db.prepare(`INSERT INTO job_blockers (job_id, at, reasons) VALUES (?, ?, ?)`);

  return (s: NewSubmission): void => {
    const at = s.created_at;
    insGroup.run({ ...s.group });
    event({ kind: 'group', id: s.group.id, run_id: null, status: s.group.status, at });
    for (const r of s.runs) {
      insRun.run({ id: r.id, group_id: s.group.id, pipeline: s.pipeline, pipeline_version: r.pipeline_version, priority: s.priority, params: JSON.stringify(r.params), trigger: JSON.stringify(r.trigger), workspace: r.workspace, dir: r.dir, created_at: at });
      added.run(s.group.id);
      event({ kind: 'run', id: r.id, run_id: r.id, status: 'queued', at });
      for (const st of r.stages) insStage.run({ id: st.id, run_id: r.id, idx: st.idx, name: st.name, status: st.status, needs: JSON.stringify(st.needs), merge: st.merge });
      const waitingFor = new Map(r.stages.map((st) => [st.id, JSON.stringify([{ code: 'waiting_for_stage', message: `waiting for stage ${st.needs.map((n) => `'${n}'`).join(', ')}`, stages: st.needs }])]));
      for (const j of r.jobs) {
        insJob.run({ id: j.id, run_id: r.id, stage_id: j.stage_id, group_id: s.group.id, stage_idx: j.stage_idx, job_idx: j.job_idx, name: j.name, executor: j.executor, status: j.status, priority: s.priority, created_at: at, queued_at: j.queued_at, matrix: j.matrix ? JSON.stringify(j.matrix) : null, allow_failure: j.allow_failure ? 1 : 0 });
        added.job(s.group.id, j.executor, j.status);
        if (j.status === 'pending') insBlocker.run(j.id, at, waitingFor.get(j.stage_id)!);
      }
    }
  };
}
