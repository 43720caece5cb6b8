// The part of the Store port that triggers use (schedules' fire marks, topic events and their
// deliveries, per-attempt resource cost). Implemented by db/repos/triggers.ts; rows are snake_case.
import type { EventStatus } from '../states/index.ts';

export interface ScheduleRow {
  pipeline: string; cron: string; timezone: string;
  /** the latest occurrence handled (fired, skipped or dropped), ms; when the schedule is new, the baseline */
  handled_ms: number;
  /** the fire time (ISO) of the latest occurrence that made a run */
  last_fire: string | null;
  skipped: number; last_skip: string | null; last_error: string | null; updated_at: string;
}

export interface TopicEventRow { seq: number; id: string; topic: string; payload: string; dedupe_key: string | null; created_at: string }

/** One event as seen by one subscribing pipeline; its status follows core/states/event.ts. */
export interface DeliveryRow {
  event_id: string; event_seq: number; pipeline: string; status: EventStatus;
  /** runs made for it so far; run_id is the latest (the one holding a reservation) */
  runs: number; run_id: string | null;
  /** ms: not dispatched again before this (a retry's backoff) */
  not_before: number | null;
  reason: string | null; message: string | null; updated_at: string;
}

export interface CostRow {
  job_id: string; attempt: number; run_id: string; group_id: string; pipeline: string; trigger_kind: string;
  cpu_seconds: number | null; wall_seconds: number; gpu_seconds: number; at: string;
}

/** Resource use summed over finished job attempts. cpu_seconds counts attempts that reported it (local/GPU/Slurm runner). */
export interface DueCost {
  job_id: string; attempt: number; started_at: string; ended_at: string; device: string | null;
  run_id: string; run_dir: string; group_id: string; pipeline: string; trigger: string;
}
export interface Cost { cpu_seconds: number; wall_seconds: number; gpu_seconds: number; attempts: number }

export interface TriggerStore {
  scheduleGet(pipeline: string): ScheduleRow | null;
  schedulePut(row: ScheduleRow): void;
  scheduleDelete(pipeline: string): void;
  /** the newest queued/running run of the pipeline that a schedule made */
  activeScheduledRun(pipeline: string): { id: string; status: string } | null;

  eventInsert(e: Omit<TopicEventRow, 'seq'>): number;
  eventGet(id: string): TopicEventRow | null;
  eventByDedupe(topic: string, key: string): TopicEventRow | null;
  eventsOfTopic(topic: string, limit: number, beforeSeq: number | null): TopicEventRow[];

  deliveryInsert(d: Omit<DeliveryRow, 'runs' | 'run_id' | 'not_before' | 'reason' | 'message'>): void;
  deliveryGet(eventId: string, pipeline: string): DeliveryRow | null;
  deliveriesOf(eventId: string): DeliveryRow[];
  /** Guarded write: UPDATE … WHERE status = from; false when the race was lost or the edge is illegal. */
  deliveryTransition(eventId: string, pipeline: string, from: EventStatus, to: EventStatus, patch: Partial<Pick<DeliveryRow, 'runs' | 'run_id' | 'not_before' | 'reason' | 'message'>>, at: string): boolean;
  /** pipelines with pending deliveries due at nowMs */
  pendingPipelines(nowMs: number): string[];
  pendingDeliveries(pipeline: string, nowMs: number, limit: number): DeliveryRow[];
  deliveriesWithStatus(status: EventStatus): DeliveryRow[];
  deliveryCounts(pipeline: string): Record<string, number>;
  countDeliveries(pipeline: string, status: EventStatus): number;
  /** a run made for an event (for the per-hour budget and the event's run list) */
  eventRunInsert(r: { run_id: string; event_id: string; pipeline: string; created_ms: number }): void;
  eventRunsSince(pipeline: string, sinceMs: number): number;
  runsOfEvent(eventId: string): string[];

  costInsertMany(rows: readonly CostRow[]): void;
  costRecorded(jobId: string, attempt: number): boolean;
  /** the finished attempts of these jobs that have no cost row yet, with what their cost row needs */
  attemptsDueCost(jobIds: readonly string[]): DueCost[];
  /** finished attempts with no cost row yet (after a crash lost the event that would have made it) */
  attemptsWithoutCost(limit: number): { job_id: string; attempt: number }[];
  costOfRun(runId: string): Cost;
  costOfGroup(groupId: string): Cost;
  costOfPipeline(pipeline: string): { total: Cost; by_trigger: Record<string, Cost> };
}
