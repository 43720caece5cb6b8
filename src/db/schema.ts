// Every table as drizzle schema; status columns are typed from the state tuples in core/states.
// The SQL that creates them is src/db/migrations/*.sql (checked in, applied at start).
import { sqliteTable, text, integer, real, primaryKey } from 'drizzle-orm/sqlite-core';
import { JOB_STATUSES, STAGE_STATUSES, RUN_STATUSES, GROUP_STATUSES, EVENT_STATUSES } from '../core/states/index.ts';

export const pipelines = sqliteTable('pipelines', {
  name: text('name').notNull(),
  version: integer('version').notNull(),
  spec: text('spec').notNull(),
  specHash: text('spec_hash').notNull(),
  createdAt: text('created_at').notNull(),
}, (t) => [primaryKey({ columns: [t.name, t.version] })]);

export const groups = sqliteTable('groups', {
  seq: integer('seq').primaryKey({ autoIncrement: true }),
  id: text('id').notNull().unique(),
  pipeline: text('pipeline').notNull(),
  status: text('status', { enum: GROUP_STATUSES }).notNull(),
  priority: integer('priority').notNull(),
  isSweep: integer('is_sweep').notNull(),
  total: integer('total').notNull(),
  trigger: text('trigger').notNull(),
  createdAt: text('created_at').notNull(),
  endedAt: text('ended_at'),
});

export const runs = sqliteTable('runs', {
  seq: integer('seq').primaryKey({ autoIncrement: true }),
  id: text('id').notNull().unique(),
  groupId: text('group_id').notNull(),
  pipeline: text('pipeline').notNull(),
  pipelineVersion: integer('pipeline_version').notNull(),
  status: text('status', { enum: RUN_STATUSES }).notNull(),
  reason: text('reason'),
  message: text('message'),
  priority: integer('priority').notNull(),
  params: text('params').notNull(),
  trigger: text('trigger').notNull(),
  workspace: text('workspace'),
  dir: text('dir').notNull(),
  createdAt: text('created_at').notNull(),
  startedAt: text('started_at'),
  endedAt: text('ended_at'),
});

export const stages = sqliteTable('stages', {
  id: text('id').primaryKey(),
  runId: text('run_id').notNull(),
  idx: integer('idx').notNull(),
  name: text('name').notNull(),
  status: text('status', { enum: STAGE_STATUSES }).notNull(),
  needs: text('needs').notNull(),
  merge: text('merge').notNull(),
  outputs: text('outputs'),
  reason: text('reason'),
  message: text('message'),
  startedAt: text('started_at'),
  endedAt: text('ended_at'),
});

export const jobs = sqliteTable('jobs', {
  seq: integer('seq').primaryKey({ autoIncrement: true }),
  id: text('id').notNull().unique(),
  runId: text('run_id').notNull(),
  stageId: text('stage_id').notNull(),
  groupId: text('group_id').notNull(),
  stageIdx: integer('stage_idx').notNull(),
  jobIdx: integer('job_idx').notNull(),
  name: text('name').notNull(),
  executor: text('executor').notNull(),
  status: text('status', { enum: JOB_STATUSES }).notNull(),
  attempt: integer('attempt').notNull(),
  failures: integer('failures').notNull(),
  lost: integer('lost').notNull(),
  priority: integer('priority').notNull(),
  reason: text('reason'),
  message: text('message'),
  exitCode: integer('exit_code'),
  createdAt: text('created_at').notNull(),
  queuedAt: text('queued_at'),
  startedAt: text('started_at'),
  endedAt: text('ended_at'),
  deadlineAt: integer('deadline_at'),
  backoffUntil: integer('backoff_until'),
  stopReason: text('stop_reason'),
  handle: text('handle'),
  outputs: text('outputs'),
  leaseToken: text('lease_token'),
  leaseExpiresAt: integer('lease_expires_at'),
  device: text('device'),
  stats: text('stats'),
  finalToken: text('final_token'),
  finalSince: integer('final_since'),
  finalUntil: integer('final_until'),
  matrix: text('matrix'),
  allowFailure: integer('allow_failure').notNull().default(0),
});

export const attempts = sqliteTable('attempts', {
  jobId: text('job_id').notNull(),
  attempt: integer('attempt').notNull(),
  status: text('status', { enum: JOB_STATUSES }).notNull(),
  reason: text('reason'),
  message: text('message'),
  exitCode: integer('exit_code'),
  startedAt: text('started_at'),
  endedAt: text('ended_at'),
}, (t) => [primaryKey({ columns: [t.jobId, t.attempt] })]);

export const commands = sqliteTable('commands', {
  jobId: text('job_id').notNull(),
  attempt: integer('attempt').notNull(),
  idx: integer('idx').notNull(),
  exitCode: integer('exit_code'),
  startedAt: text('started_at'),
  endedAt: text('ended_at'),
  logSize: integer('log_size').notNull(),
}, (t) => [primaryKey({ columns: [t.jobId, t.attempt, t.idx] })]);

export const statusEvents = sqliteTable('status_events', {
  seq: integer('seq').primaryKey({ autoIncrement: true }),
  kind: text('kind').notNull(),
  entityId: text('entity_id').notNull(),
  runId: text('run_id'),
  status: text('status').notNull(),
  at: text('at').notNull(),
});

export const jobBlockers = sqliteTable('job_blockers', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  jobId: text('job_id').notNull(),
  at: text('at').notNull(),
  reasons: text('reasons').notNull(),
});

export const tokens = sqliteTable('tokens', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  role: text('role', { enum: ['admin', 'user', 'reader', 'agent'] }).notNull(),
  hash: text('hash').notNull().unique(),
  createdAt: text('created_at').notNull(),
  lastUsedAt: text('last_used_at'),
});

export const idempotency = sqliteTable('idempotency', {
  key: text('key').primaryKey(),
  bodyHash: text('body_hash').notNull(),
  response: text('response').notNull(),
  createdAt: integer('created_at').notNull(),
});

export const daemon = sqliteTable('daemon', {
  id: integer('id').primaryKey(),
  pid: integer('pid').notNull(),
  host: text('host').notNull(),
  startedAt: text('started_at').notNull(),
  heartbeatAt: text('heartbeat_at').notNull(),
  version: text('version').notNull(),
});

// v3: triggers (0003_triggers.sql)
export const schedules = sqliteTable('schedules', {
  pipeline: text('pipeline').primaryKey(),
  cron: text('cron').notNull(),
  timezone: text('timezone').notNull(),
  handledMs: integer('handled_ms').notNull(),
  lastFire: text('last_fire'),
  skipped: integer('skipped').notNull(),
  lastSkip: text('last_skip'),
  lastError: text('last_error'),
  updatedAt: text('updated_at').notNull(),
});

export const topicEvents = sqliteTable('topic_events', {
  seq: integer('seq').primaryKey({ autoIncrement: true }),
  id: text('id').notNull().unique(),
  topic: text('topic').notNull(),
  payload: text('payload').notNull(),
  dedupeKey: text('dedupe_key'),
  createdAt: text('created_at').notNull(),
});

export const eventDeliveries = sqliteTable('event_deliveries', {
  eventId: text('event_id').notNull(),
  eventSeq: integer('event_seq').notNull(),
  pipeline: text('pipeline').notNull(),
  status: text('status', { enum: EVENT_STATUSES }).notNull(),
  runs: integer('runs').notNull(),
  runId: text('run_id'),
  notBefore: integer('not_before'),
  reason: text('reason'),
  message: text('message'),
  updatedAt: text('updated_at').notNull(),
}, (t) => [primaryKey({ columns: [t.eventId, t.pipeline] })]);

export const eventRuns = sqliteTable('event_runs', {
  runId: text('run_id').primaryKey(),
  eventId: text('event_id').notNull(),
  pipeline: text('pipeline').notNull(),
  createdMs: integer('created_ms').notNull(),
});

export const jobCosts = sqliteTable('job_costs', {
  jobId: text('job_id').notNull(),
  attempt: integer('attempt').notNull(),
  runId: text('run_id').notNull(),
  groupId: text('group_id').notNull(),
  pipeline: text('pipeline').notNull(),
  triggerKind: text('trigger_kind').notNull(),
  cpuSeconds: real('cpu_seconds'),
  wallSeconds: real('wall_seconds').notNull(),
  gpuSeconds: real('gpu_seconds').notNull(),
  at: text('at').notNull(),
}, (t) => [primaryKey({ columns: [t.jobId, t.attempt] })]);

export const secrets = sqliteTable('secrets', {
  name: text('name').primaryKey(),
  iv: text('iv').notNull(),
  ciphertext: text('ciphertext').notNull(),
  createdAt: text('created_at').notNull(),
  updatedAt: text('updated_at').notNull(),
});

export const audit = sqliteTable('audit', {
  seq: integer('seq').primaryKey({ autoIncrement: true }),
  at: text('at').notNull(),
  tokenId: text('token_id'),
  tokenName: text('token_name'),
  role: text('role'),
  action: text('action').notNull(),
  target: text('target'),
  details: text('details'),
});
