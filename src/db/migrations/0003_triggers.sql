-- v3: triggers. A schedule's "handled through" mark per pipeline (so a restart neither fires an
-- occurrence twice nor forgets the missed ones), topic events with one delivery per subscribing
-- pipeline (status: src/core/states/event.ts), the runs made for events, and each finished job
-- attempt's resource use (CPU-, wall- and GPU-seconds).
CREATE TABLE schedules (
  pipeline TEXT PRIMARY KEY,
  cron TEXT NOT NULL,
  timezone TEXT NOT NULL,
  handled_ms INTEGER NOT NULL,
  last_fire TEXT,
  skipped INTEGER NOT NULL DEFAULT 0,
  last_skip TEXT,
  last_error TEXT,
  updated_at TEXT NOT NULL
);
CREATE TABLE topic_events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  topic TEXT NOT NULL,
  payload TEXT NOT NULL,
  dedupe_key TEXT,
  created_at TEXT NOT NULL
);
CREATE UNIQUE INDEX topic_events_dedupe ON topic_events(topic, dedupe_key) WHERE dedupe_key IS NOT NULL;
CREATE INDEX topic_events_topic ON topic_events(topic, seq);
CREATE TABLE event_deliveries (
  event_id TEXT NOT NULL REFERENCES topic_events(id) ON DELETE CASCADE,
  event_seq INTEGER NOT NULL,
  pipeline TEXT NOT NULL,
  status TEXT NOT NULL,
  runs INTEGER NOT NULL DEFAULT 0,
  run_id TEXT,
  not_before INTEGER,
  reason TEXT,
  message TEXT,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (event_id, pipeline)
);
CREATE INDEX event_deliveries_status ON event_deliveries(status, pipeline, event_seq);
CREATE TABLE event_runs (
  run_id TEXT PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
  event_id TEXT NOT NULL,
  pipeline TEXT NOT NULL,
  created_ms INTEGER NOT NULL
);
CREATE INDEX event_runs_event ON event_runs(event_id);
CREATE INDEX event_runs_pipeline ON event_runs(pipeline, created_ms);
CREATE TABLE job_costs (
  job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
  attempt INTEGER NOT NULL,
  run_id TEXT NOT NULL,
  group_id TEXT NOT NULL,
  pipeline TEXT NOT NULL,
  trigger_kind TEXT NOT NULL,
  cpu_seconds REAL,
  wall_seconds REAL NOT NULL,
  gpu_seconds REAL NOT NULL,
  at TEXT NOT NULL,
  PRIMARY KEY (job_id, attempt)
);
CREATE INDEX job_costs_run ON job_costs(run_id);
CREATE INDEX job_costs_group ON job_costs(group_id);
CREATE INDEX job_costs_pipeline ON job_costs(pipeline, trigger_kind);
