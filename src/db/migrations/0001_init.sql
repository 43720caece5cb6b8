-- drover schema v1. Status columns hold the values of src/core/states/*.ts.
CREATE TABLE pipelines (
  name TEXT NOT NULL,
  version INTEGER NOT NULL,
  spec TEXT NOT NULL,
  spec_hash TEXT NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY (name, version)
);
CREATE TABLE groups (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  pipeline TEXT NOT NULL,
  status TEXT NOT NULL,
  priority INTEGER NOT NULL DEFAULT 0,
  is_sweep INTEGER NOT NULL DEFAULT 0,
  total INTEGER NOT NULL DEFAULT 0,
  trigger TEXT NOT NULL,
  created_at TEXT NOT NULL,
  ended_at TEXT
);
CREATE TABLE runs (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  group_id TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
  pipeline TEXT NOT NULL,
  pipeline_version INTEGER NOT NULL,
  status TEXT NOT NULL,
  reason TEXT,
  message TEXT,
  priority INTEGER NOT NULL DEFAULT 0,
  params TEXT NOT NULL,
  trigger TEXT NOT NULL,
  workspace TEXT,
  dir TEXT NOT NULL,
  created_at TEXT NOT NULL,
  started_at TEXT,
  ended_at TEXT
);
CREATE INDEX runs_group ON runs(group_id, status);
CREATE INDEX runs_status ON runs(status, seq);
CREATE INDEX runs_pipeline ON runs(pipeline, seq);
CREATE TABLE stages (
  id TEXT PRIMARY KEY,
  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  idx INTEGER NOT NULL,
  name TEXT NOT NULL,
  status TEXT NOT NULL,
  needs TEXT NOT NULL,
  merge TEXT NOT NULL,
  outputs TEXT,
  reason TEXT,
  message TEXT,
  started_at TEXT,
  ended_at TEXT
);
CREATE INDEX stages_run ON stages(run_id, idx);
CREATE TABLE jobs (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  stage_id TEXT NOT NULL REFERENCES stages(id) ON DELETE CASCADE,
  group_id TEXT NOT NULL,
  stage_idx INTEGER NOT NULL,
  job_idx INTEGER NOT NULL,
  name TEXT NOT NULL,
  executor TEXT NOT NULL,
  status TEXT NOT NULL,
  attempt INTEGER NOT NULL DEFAULT 1,
  failures INTEGER NOT NULL DEFAULT 0,
  lost INTEGER NOT NULL DEFAULT 0,
  priority INTEGER NOT NULL DEFAULT 0,
  reason TEXT,
  message TEXT,
  exit_code INTEGER,
  created_at TEXT NOT NULL,
  queued_at TEXT,
  started_at TEXT,
  ended_at TEXT,
  deadline_at INTEGER,
  backoff_until INTEGER,
  stop_reason TEXT,
  handle TEXT,
  outputs TEXT,
  lease_token TEXT,
  lease_expires_at INTEGER
);
CREATE INDEX jobs_ready ON jobs(status, group_id, priority DESC, seq);
CREATE INDEX jobs_stage ON jobs(stage_id, status);
CREATE INDEX jobs_run ON jobs(run_id);
CREATE TABLE attempts (
  job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
  attempt INTEGER NOT NULL,
  status TEXT NOT NULL,
  reason TEXT,
  message TEXT,
  exit_code INTEGER,
  started_at TEXT,
  ended_at TEXT,
  PRIMARY KEY (job_id, attempt)
);
CREATE TABLE commands (
  job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
  attempt INTEGER NOT NULL,
  idx INTEGER NOT NULL,
  exit_code INTEGER,
  started_at TEXT,
  ended_at TEXT,
  log_size INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (job_id, attempt, idx)
);
CREATE TABLE status_events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL,
  entity_id TEXT NOT NULL,
  run_id TEXT,
  status TEXT NOT NULL,
  at TEXT NOT NULL
);
CREATE TABLE job_blockers (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
  at TEXT NOT NULL,
  reasons TEXT NOT NULL
);
CREATE INDEX job_blockers_job ON job_blockers(job_id, id);
CREATE TABLE tokens (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  role TEXT NOT NULL,
  hash TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL,
  last_used_at TEXT
);
CREATE TABLE idempotency (
  key TEXT PRIMARY KEY,
  body_hash TEXT NOT NULL,
  response TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE daemon (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  pid INTEGER NOT NULL,
  host TEXT NOT NULL,
  started_at TEXT NOT NULL,
  heartbeat_at TEXT NOT NULL,
  version TEXT NOT NULL
);
