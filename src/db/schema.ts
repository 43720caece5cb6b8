// Every table as drizzle schema; status columns are typed from the state tuples in core/states.
// The SQL that creates them is src/db/migrations/*.sql (checked in, applied at start).
import { sqliteTable, text, integer, real, primaryKey } from 'drizzle-orm/sqlite-core';
import { JOB_STATUSES, STAGE_STATUSES, RUN_STATUSES, GROUP_STATUSES, EVENT_STATUSES, ALLOC_STATUSES, ALLOC_QUEUE_STATUSES } from '../core/states/index.ts';

export const pipelines = sqliteTable('pipelines', {
  name: text('name').notNull(),
  version: integer('version').notNull(),
  spec: text('spec').notNull(),
  spec_hash: text('spec_hash').notNull(),
  created_at: text('created_at').notNull(),
}, (t) => [primaryKey({ columns: [t.name, t.version] })]);

export const groups = sqliteTable('groups', {
  seq: integer('seq').primaryKey({ autoIncrement: true }),
  id: text('id').notNull().unique(),
  pipeline: text('pipeline').notNull(),
  status: text('status', { enum: GROUP_STATUSES }).notNull(),
  priority: integer('priority').notNull(),
  is_sweep: integer('is_sweep').notNull(),
  total: integer('total').notNull(),
  trigger: text('trigger').notNull(),
  created_at: text('created_at').notNull(),
  ended_at: text('ended_at'),
  cancel_requested: integer('cancel_requested').notNull().default(0),
});

export const runs = sqliteTable('runs', {
  seq: integer('seq').primaryKey({ autoIncrement: true }),
  id: text('id').notNull().unique(),
  group_id: text('group_id').notNull(),
  pipeline: text('pipeline').notNull(),
  pipeline_version: integer('pipeline_version').notNull(),
  status: text('status', { enum: RUN_STATUSES }).notNull(),
  reason: text('reason'),
  message: text('message'),
  priority: integer('priority').notNull(),
  params: text('params').notNull(),
  trigger: text('trigger').notNull(),
  workspace: text('workspace'),
  dir: text('dir').notNull(),
  created_at: text('created_at').notNull(),
  started_at: text('started_at'),
  ended_at: text('ended_at'),
  /** 1 while the run's folder (run.json) is still to be made by the scheduler (v11) */
  folder_pending: integer('folder_pending').notNull().default(0),
});

export const stages = sqliteTable('stages', {
  id: text('id').primaryKey(),
  run_id: text('run_id').notNull(),
  idx: integer('idx').notNull(),
  name: text('name').notNull(),
  status: text('status', { enum: STAGE_STATUSES }).notNull(),
  needs: text('needs').notNull(),
  merge: text('merge').notNull(),
  outputs: text('outputs'),
  reason: text('reason'),
  message: text('message'),
  started_at: text('started_at'),
  ended_at: text('ended_at'),
});

export const jobs = sqliteTable('jobs', {
  seq: integer('seq').primaryKey({ autoIncrement: true }),
  id: text('id').notNull().unique(),
  run_id: text('run_id').notNull(),
  stage_id: text('stage_id').notNull(),
  group_id: text('group_id').notNull(),
  stage_idx: integer('stage_idx').notNull(),
  job_idx: integer('job_idx').notNull(),
  name: text('name').notNull(),
  executor: text('executor').notNull(),
  status: text('status', { enum: JOB_STATUSES }).notNull(),
  attempt: integer('attempt').notNull(),
  failures: integer('failures').notNull(),
  lost: integer('lost').notNull(),
  priority: integer('priority').notNull(),
  reason: text('reason'),
  message: text('message'),
  exit_code: integer('exit_code'),
  created_at: text('created_at').notNull(),
  queued_at: text('queued_at'),
  started_at: text('started_at'),
  ended_at: text('ended_at'),
  deadline_at: integer('deadline_at'),
  backoff_until: integer('backoff_until'),
  stop_reason: text('stop_reason'),
  handle: text('handle'),
  outputs: text('outputs'),
  lease_token: text('lease_token'),
  lease_expires_at: integer('lease_expires_at'),
  device: text('device'),
  stats: text('stats'),
  final_token: text('final_token'),
  final_since: integer('final_since'),
  final_until: integer('final_until'),
  matrix: text('matrix'),
  allow_failure: integer('allow_failure').notNull().default(0),
});

export const attempts = sqliteTable('attempts', {
  job_id: text('job_id').notNull(),
  attempt: integer('attempt').notNull(),
  status: text('status', { enum: JOB_STATUSES }).notNull(),
  reason: text('reason'),
  message: text('message'),
  exit_code: integer('exit_code'),
  started_at: text('started_at'),
  ended_at: text('ended_at'),
}, (t) => [primaryKey({ columns: [t.job_id, t.attempt] })]);

export const commands = sqliteTable('commands', {
  job_id: text('job_id').notNull(),
  attempt: integer('attempt').notNull(),
  idx: integer('idx').notNull(),
  exit_code: integer('exit_code'),
  started_at: text('started_at'),
  ended_at: text('ended_at'),
  log_size: integer('log_size').notNull(),
}, (t) => [primaryKey({ columns: [t.job_id, t.attempt, t.idx] })]);

export const statusEvents = sqliteTable('status_events', {
  seq: integer('seq').primaryKey({ autoIncrement: true }),
  kind: text('kind').notNull(),
  entity_id: text('entity_id').notNull(),
  run_id: text('run_id'),
  status: text('status').notNull(),
  at: text('at').notNull(),
});

export const jobBlockers = sqliteTable('job_blockers', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  job_id: text('job_id').notNull(),
  at: text('at').notNull(),
  reasons: text('reasons').notNull(),
});

export const tokens = sqliteTable('tokens', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  role: text('role', { enum: ['admin', 'user', 'reader', 'agent'] }).notNull(),
  hash: text('hash').notNull().unique(),
  created_at: text('created_at').notNull(),
  last_used_at: text('last_used_at'),
});

export const idempotency = sqliteTable('idempotency', {
  key: text('key').primaryKey(),
  body_hash: text('body_hash').notNull(),
  response: text('response').notNull(),
  created_at: integer('created_at').notNull(),
});

export const daemon = sqliteTable('daemon', {
  id: integer('id').primaryKey(),
  pid: integer('pid').notNull(),
  host: text('host').notNull(),
  started_at: text('started_at').notNull(),
  heartbeat_at: text('heartbeat_at').notNull(),
  version: text('version').notNull(),
});

// v3: triggers (0003_triggers.sql)
export const schedules = sqliteTable('schedules', {
  pipeline: text('pipeline').primaryKey(),
  cron: text('cron').notNull(),
  timezone: text('timezone').notNull(),
  handled_ms: integer('handled_ms').notNull(),
  last_fire: text('last_fire'),
  skipped: integer('skipped').notNull(),
  last_skip: text('last_skip'),
  last_error: text('last_error'),
  updated_at: text('updated_at').notNull(),
});

export const topicEvents = sqliteTable('topic_events', {
  seq: integer('seq').primaryKey({ autoIncrement: true }),
  id: text('id').notNull().unique(),
  topic: text('topic').notNull(),
  payload: text('payload').notNull(),
  dedupe_key: text('dedupe_key'),
  created_at: text('created_at').notNull(),
});

export const eventDeliveries = sqliteTable('event_deliveries', {
  event_id: text('event_id').notNull(),
  event_seq: integer('event_seq').notNull(),
  pipeline: text('pipeline').notNull(),
  status: text('status', { enum: EVENT_STATUSES }).notNull(),
  runs: integer('runs').notNull(),
  run_id: text('run_id'),
  not_before: integer('not_before'),
  reason: text('reason'),
  message: text('message'),
  updated_at: text('updated_at').notNull(),
}, (t) => [primaryKey({ columns: [t.event_id, t.pipeline] })]);

export const eventRuns = sqliteTable('event_runs', {
  run_id: text('run_id').primaryKey(),
  event_id: text('event_id').notNull(),
  pipeline: text('pipeline').notNull(),
  created_ms: integer('created_ms').notNull(),
});

export const jobCosts = sqliteTable('job_costs', {
  job_id: text('job_id').notNull(),
  attempt: integer('attempt').notNull(),
  run_id: text('run_id').notNull(),
  group_id: text('group_id').notNull(),
  pipeline: text('pipeline').notNull(),
  trigger_kind: text('trigger_kind').notNull(),
  cpu_seconds: real('cpu_seconds'),
  wall_seconds: real('wall_seconds').notNull(),
  gpu_seconds: real('gpu_seconds').notNull(),
  at: text('at').notNull(),
}, (t) => [primaryKey({ columns: [t.job_id, t.attempt] })]);

export const secrets = sqliteTable('secrets', {
  name: text('name').primaryKey(),
  iv: text('iv').notNull(),
  ciphertext: text('ciphertext').notNull(),
  created_at: text('created_at').notNull(),
  updated_at: text('updated_at').notNull(),
});

export const audit = sqliteTable('audit', {
  seq: integer('seq').primaryKey({ autoIncrement: true }),
  at: text('at').notNull(),
  token_id: text('token_id'),
  token_name: text('token_name'),
  role: text('role'),
  action: text('action').notNull(),
  target: text('target'),
  details: text('details'),
});

// v9: allocation queues (0009_alloc_queues.sql)
export const allocQueues = sqliteTable('alloc_queues', {
  id: text('id').primaryKey(),
  // unique among queues not removed (a partial index, 0010_alloc_shape.sql)
  name: text('name').notNull(),
  manager: text('manager').notNull(),
  pool: text('pool').notNull(),
  time_ms: integer('time_ms').notNull(),
  nodes: integer('nodes').notNull(),
  backlog: integer('backlog').notNull(),
  max_allocs: integer('max_allocs').notNull(),
  idle_ms: integer('idle_ms').notNull(),
  sbatch_args: text('sbatch_args').notNull(),
  status: text('status', { enum: ALLOC_QUEUE_STATUSES }).notNull(),
  reason: text('reason'),
  failures: integer('failures').notNull().default(0),
  backoff_until: integer('backoff_until'),
  last_error: text('last_error'),
  sbatch_calls: integer('sbatch_calls').notNull().default(0),
  created_at: text('created_at').notNull(),
  updated_at: text('updated_at').notNull(),
  // v10 (0010_alloc_shape.sql): one node of the partition, and what an allocation gets per node; null: unknown
  node_cpus: integer('node_cpus'),
  node_gpus: integer('node_gpus'),
  cpus: integer('cpus'),
  gpus: integer('gpus'),
});

export const allocations = sqliteTable('allocations', {
  seq: integer('seq').primaryKey({ autoIncrement: true }),
  id: text('id').notNull().unique(),
  queue_id: text('queue_id').notNull(),
  status: text('status', { enum: ALLOC_STATUSES }).notNull(),
  slurm_id: text('slurm_id'),
  slurm_state: text('slurm_state'),
  node: text('node'),
  reason: text('reason'),
  message: text('message'),
  token_id: text('token_id'),
  dir: text('dir').notNull(),
  script: text('script').notNull(),
  jobs_run: integer('jobs_run').notNull().default(0),
  connected_at: text('connected_at'),
  created_at: text('created_at').notNull(),
  started_at: text('started_at'),
  ended_at: text('ended_at'),
});
