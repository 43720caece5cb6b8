// TriggerRepo: the SQL of triggers (core/triggers/store.ts): schedule marks, topic events and their
// deliveries (guarded status writes, like transitions.ts), event runs, and per-attempt cost rows.
import type { Database } from 'bun:sqlite';
import { eventMachine, type EventStatus } from '../../core/states/index.ts';
import type { TriggerStore, ScheduleRow, TopicEventRow, DeliveryRow, CostRow, Cost, DueCost } from '../../core/triggers/store.ts';
import { IllegalTransition } from './transitions.ts';

const DELIVERY_PATCH = ['runs', 'run_id', 'not_before', 'reason', 'message'] as const;
const ACTIVE_SCHEDULED = `SELECT id, status FROM runs WHERE status IN ('queued', 'running') AND pipeline = ? AND json_extract(trigger, '$.kind') = 'schedule' ORDER BY seq DESC LIMIT 1`;
const COST_SUM = 'SELECT coalesce(sum(cpu_seconds), 0) AS cpu, coalesce(sum(wall_seconds), 0) AS wall, coalesce(sum(gpu_seconds), 0) AS gpu, count(*) AS n FROM job_costs';

type SumRow = { cpu: number; wall: number; gpu: number; n: number };
const r3 = (x: number) => Math.round(x * 1000) / 1000;
const toCost = (r: SumRow | null): Cost => ({ cpu_seconds: r3(r?.cpu ?? 0), wall_seconds: r3(r?.wall ?? 0), gpu_seconds: r3(r?.gpu ?? 0), attempts: r?.n ?? 0 });

export class TriggerRepo implements TriggerStore {
  private q = new Map<string, ReturnType<Database['prepare']>>();
  constructor(private db: Database, private onIllegal: (e: IllegalTransition) => void = () => {}) {}

  private p(sql: string) {
    let s = this.q.get(sql);
    if (!s) this.q.set(sql, (s = this.db.prepare(sql)));
    return s;
  }

  // schedules
  scheduleGet(pipeline: string) { return this.p('SELECT * FROM schedules WHERE pipeline = ?').get(pipeline) as ScheduleRow | null; }
  schedulePut(row: ScheduleRow) {
    this.p(`INSERT OR REPLACE INTO schedules (pipeline, cron, timezone, handled_ms, last_fire, skipped, last_skip, last_error, updated_at)
      VALUES ($pipeline, $cron, $timezone, $handled_ms, $last_fire, $skipped, $last_skip, $last_error, $updated_at)`).run(row as never);
  }
  scheduleDelete(pipeline: string) { this.p('DELETE FROM schedules WHERE pipeline = ?').run(pipeline); }
  activeScheduledRun(pipeline: string) { return this.p(ACTIVE_SCHEDULED).get(pipeline) as { id: string; status: string } | null; }

  // topic events
  eventInsert(e: Omit<TopicEventRow, 'seq'>) {
    return Number(this.p('INSERT INTO topic_events (id, topic, payload, dedupe_key, created_at) VALUES ($id, $topic, $payload, $dedupe_key, $created_at)').run(e as never).lastInsertRowid);
  }
  eventGet(id: string) { return this.p('SELECT * FROM topic_events WHERE id = ?').get(id) as TopicEventRow | null; }
  eventByDedupe(topic: string, key: string) { return this.p('SELECT * FROM topic_events WHERE topic = ? AND dedupe_key = ?').get(topic, key) as TopicEventRow | null; }
  eventsOfTopic(topic: string, limit: number, beforeSeq: number | null) {
    return this.p('SELECT * FROM topic_events WHERE topic = ? AND seq < ? ORDER BY seq DESC LIMIT ?').all(topic, beforeSeq ?? Number.MAX_SAFE_INTEGER, limit) as TopicEventRow[];
  }

  // deliveries
  deliveryInsert(d: Omit<DeliveryRow, 'runs' | 'run_id' | 'not_before' | 'reason' | 'message'>) {
    this.p('INSERT INTO event_deliveries (event_id, event_seq, pipeline, status, updated_at) VALUES ($event_id, $event_seq, $pipeline, $status, $updated_at)').run(d as never);
  }
  deliveryGet(eventId: string, pipeline: string) { return this.p('SELECT * FROM event_deliveries WHERE event_id = ? AND pipeline = ?').get(eventId, pipeline) as DeliveryRow | null; }
  deliveriesOf(eventId: string) { return this.p('SELECT * FROM event_deliveries WHERE event_id = ? ORDER BY pipeline').all(eventId) as DeliveryRow[]; }
  deliveryTransition(eventId: string, pipeline: string, from: EventStatus, to: EventStatus, patch: Partial<Pick<DeliveryRow, (typeof DELIVERY_PATCH)[number]>>, at: string): boolean {
    if (!eventMachine.canTransition(from, to)) {
      this.onIllegal(new IllegalTransition('event', `${eventId}/${pipeline}`, from, to));
      return false;
    }
    const keys = DELIVERY_PATCH.filter((k) => k in patch);
    const sets = ['status = $to', 'updated_at = $at', ...keys.map((k) => `${k} = $${k}`)].join(', ');
    const params: Record<string, unknown> = { event_id: eventId, pipeline, from, to, at };
    for (const k of keys) params[k] = patch[k] ?? null;
    return this.p(`UPDATE event_deliveries SET ${sets} WHERE event_id = $event_id AND pipeline = $pipeline AND status = $from`).run(params as never).changes === 1;
  }
  pendingPipelines(nowMs: number) {
    return (this.p(`SELECT DISTINCT pipeline FROM event_deliveries WHERE status = 'pending' AND (not_before IS NULL OR not_before <= ?)`).all(nowMs) as { pipeline: string }[]).map((r) => r.pipeline);
  }
  pendingDeliveries(pipeline: string, nowMs: number, limit: number) {
    return this.p(`SELECT * FROM event_deliveries WHERE status = 'pending' AND pipeline = ? AND (not_before IS NULL OR not_before <= ?) ORDER BY event_seq LIMIT ?`).all(pipeline, nowMs, limit) as DeliveryRow[];
  }
  deliveriesWithStatus(status: EventStatus) { return this.p('SELECT * FROM event_deliveries WHERE status = ? ORDER BY event_seq').all(status) as DeliveryRow[]; }
  deliveryCounts(pipeline: string) {
    const out: Record<string, number> = {};
    for (const r of this.p('SELECT status, count(*) AS n FROM event_deliveries WHERE pipeline = ? GROUP BY status').all(pipeline) as { status: string; n: number }[]) out[r.status] = r.n;
    return out;
  }
  countDeliveries(pipeline: string, status: EventStatus) {
    return (this.p('SELECT count(*) AS n FROM event_deliveries WHERE pipeline = ? AND status = ?').get(pipeline, status) as { n: number }).n;
  }
  eventRunInsert(r: { run_id: string; event_id: string; pipeline: string; created_ms: number }) {
    this.p('INSERT INTO event_runs (run_id, event_id, pipeline, created_ms) VALUES ($run_id, $event_id, $pipeline, $created_ms)').run(r as never);
  }
  eventRunsSince(pipeline: string, sinceMs: number) {
    return (this.p('SELECT count(*) AS n FROM event_runs WHERE pipeline = ? AND created_ms > ?').get(pipeline, sinceMs) as { n: number }).n;
  }
  runsOfEvent(eventId: string) {
    return (this.p('SELECT run_id FROM event_runs WHERE event_id = ? ORDER BY created_ms, rowid').all(eventId) as { run_id: string }[]).map((r) => r.run_id);
  }

  // cost
  /** many rows in one statement (a JSON array; one prepared statement whatever the count) */
  costInsertMany(rows: readonly CostRow[]) {
    if (rows.length === 0) return;
    this.p(`INSERT OR IGNORE INTO job_costs (job_id, attempt, run_id, group_id, pipeline, trigger_kind, cpu_seconds, wall_seconds, gpu_seconds, at)
      SELECT value->>'job_id', value->>'attempt', value->>'run_id', value->>'group_id', value->>'pipeline', value->>'trigger_kind',
        value->>'cpu_seconds', value->>'wall_seconds', value->>'gpu_seconds', value->>'at' FROM json_each(?)`).run(JSON.stringify(rows));
  }
  attemptsDueCost(jobIds: readonly string[]) {
    return this.p(`SELECT a.job_id, a.attempt, a.started_at, a.ended_at, j.device, r.id AS run_id, r.dir AS run_dir, r.group_id, r.pipeline, r.trigger
      FROM attempts a JOIN jobs j ON j.id = a.job_id JOIN runs r ON r.id = j.run_id
      WHERE a.job_id IN (SELECT value FROM json_each(?)) AND a.started_at IS NOT NULL AND a.ended_at IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM job_costs c WHERE c.job_id = a.job_id AND c.attempt = a.attempt)
      ORDER BY a.job_id, a.attempt`).all(JSON.stringify(jobIds)) as DueCost[];
  }
  costRecorded(jobId: string, attempt: number) { return !!this.p('SELECT 1 FROM job_costs WHERE job_id = ? AND attempt = ?').get(jobId, attempt); }
  attemptsWithoutCost(limit: number) {
    return this.p(`SELECT a.job_id, a.attempt FROM attempts a LEFT JOIN job_costs c ON c.job_id = a.job_id AND c.attempt = a.attempt
      WHERE a.started_at IS NOT NULL AND a.ended_at IS NOT NULL AND c.job_id IS NULL LIMIT ?`).all(limit) as { job_id: string; attempt: number }[];
  }
  costOfRun(runId: string) { return toCost(this.p(`${COST_SUM} WHERE run_id = ?`).get(runId) as SumRow); }
  costOfGroup(groupId: string) { return toCost(this.p(`${COST_SUM} WHERE group_id = ?`).get(groupId) as SumRow); }
  costOfPipeline(pipeline: string) {
    const rows = this.p(`${COST_SUM.replace('SELECT ', 'SELECT trigger_kind AS kind, ')} WHERE pipeline = ? GROUP BY trigger_kind ORDER BY trigger_kind`).all(pipeline) as (SumRow & { kind: string })[];
    const by_trigger: Record<string, Cost> = {};
    const total: SumRow = { cpu: 0, wall: 0, gpu: 0, n: 0 };
    for (const r of rows) {
      by_trigger[r.kind] = toCost(r);
      total.cpu += r.cpu; total.wall += r.wall; total.gpu += r.gpu; total.n += r.n;
    }
    return { total: toCost(total), by_trigger };
  }
}
