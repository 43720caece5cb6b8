// SQL of retention GC: the runs of each pipeline (newest first), and the removal of runs with every
// row that hangs off them — stages, jobs, attempts, commands, blockers, costs and event links go by
// ON DELETE CASCADE; status events (no foreign key) and emptied groups are removed here. Also ended
// allocations and removed allocation queues left without any.
import type { Database } from 'bun:sqlite';
import type { GcAllocRow, GcRepo, GcRunRow } from '../../core/gc/types.ts';

const CHUNK = 400;

/** `runDeleted` hears of each run removed (the store's kept run counts, run-counts.ts). */
export function gcRepo(db: Database, runDeleted: (group: string, status: string) => void = () => {}): GcRepo {
  const pipelines = db.prepare('SELECT DISTINCT pipeline FROM runs ORDER BY pipeline');
  const runsOf = db.prepare('SELECT id, group_id, pipeline, status, dir, created_at, ended_at FROM runs WHERE pipeline = ? ORDER BY seq DESC');
  const runIds = db.prepare('SELECT id FROM runs WHERE id = ?');
  // re-checked here, inside the one transaction: a run re-opened (retry) since it was planned stays
  const delRun = db.prepare(`DELETE FROM runs WHERE id = ? AND status IN ('succeeded', 'failed', 'canceled')`);
  const delGroup = db.prepare('DELETE FROM groups WHERE id = ? AND NOT EXISTS (SELECT 1 FROM runs WHERE group_id = ?)');
  const groupExists = db.prepare('SELECT 1 FROM groups WHERE id = ?');
  const jobIdsOfRun = db.prepare('SELECT id FROM jobs WHERE run_id = ?');
  const stageIdsOfRun = db.prepare('SELECT id FROM stages WHERE run_id = ?');
  // deliveries go with their event (ON DELETE CASCADE)
  const SETTLED = `FROM topic_events e WHERE e.created_at < ?
    AND NOT EXISTS (SELECT 1 FROM event_runs r WHERE r.event_id = e.id)
    AND NOT EXISTS (SELECT 1 FROM event_deliveries d WHERE d.event_id = e.id AND d.status IN ('pending', 'reserved'))`;
  const countSettled = db.prepare(`SELECT count(*) AS n ${SETTLED}`);
  // allocations: only terminal ones, re-checked inside the delete (a live allocation is never removed)
  const TERMINAL = `('ended', 'failed', 'canceled')`;
  const endedAllocs = db.prepare(`SELECT a.id, a.queue_id, q.name AS queue, a.status, a.dir, a.ended_at FROM allocations a JOIN alloc_queues q ON q.id = a.queue_id
    WHERE a.status IN ${TERMINAL} AND coalesce(a.ended_at, a.created_at) < ? ORDER BY a.seq`);
  const delAlloc = db.prepare(`DELETE FROM allocations WHERE id = ? AND status IN ${TERMINAL}`);
  const allocExists = db.prepare('SELECT 1 FROM allocations WHERE id = ?');
  const removedQueues = db.prepare(`SELECT q.id, q.name, (SELECT count(*) FROM allocations a WHERE a.queue_id = q.id) AS allocations FROM alloc_queues q WHERE q.status = 'removed' ORDER BY q.created_at`);
  const delQueue = db.prepare(`DELETE FROM alloc_queues WHERE id = ? AND status = 'removed' AND NOT EXISTS (SELECT 1 FROM allocations a WHERE a.queue_id = alloc_queues.id)`);
  const delSettled = db.prepare(`DELETE FROM topic_events WHERE id IN (SELECT e.id ${SETTLED})`);
  return {
    pipelinesWithRuns: () => (pipelines.all() as { pipeline: string }[]).map((r) => r.pipeline),
    runsOf: (pipeline) => runsOf.all(pipeline) as GcRunRow[],
    runExists: (id) => !!runIds.get(id),
    endedAllocations: (before) => endedAllocs.all(before) as GcAllocRow[],
    deleteAllocations: (ids) => db.transaction(() => ids.filter((id) => delAlloc.run(id).changes === 1))(),
    allocationExists: (id) => !!allocExists.get(id),
    removedQueues: () => removedQueues.all() as { id: string; name: string; allocations: number }[],
    deleteRemovedQueues: (ids) => db.transaction(() => ids.filter((id) => delQueue.run(id).changes === 1))(),
    settledEvents: (before, dryRun) => dryRun ? (countSettled.get(before) as { n: number }).n : delSettled.run(before).changes,
    deleteRuns: (runs) => db.transaction(() => {
      const entities: string[] = [];
      const groups = new Set<string>();
      const deleted: string[] = [];
      for (const r of runs) {
        const jobs = jobIdsOfRun.all(r.id) as { id: string }[];
        const stages = stageIdsOfRun.all(r.id) as { id: string }[];
        if (delRun.run(r.id).changes !== 1) continue;
        runDeleted(r.group_id, r.status);
        deleted.push(r.id);
        entities.push(r.id, ...jobs.map((j) => j.id), ...stages.map((st) => st.id));
        groups.add(r.group_id);
      }
      for (const g of groups) {
        delGroup.run(g, g);
        if (!groupExists.get(g)) entities.push(g);
      }
      for (let i = 0; i < entities.length; i += CHUNK) {
        const part = entities.slice(i, i + CHUNK);
        const marks = part.map(() => '?').join(', ');
        db.prepare(`DELETE FROM status_events WHERE entity_id IN (${marks}) OR run_id IN (${marks})`).run(...part, ...part);
      }
      return deleted;
    })(),
  };
}
