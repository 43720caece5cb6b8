-- v10: allocation queues learn the shape of what they submit: the CPUs and GPUs of one node of the
-- partition (sinfo, at `alloc add`) and what each allocation gets per node (its sbatch arguments,
-- bounded by the node). NULL: not known (queues added before v10, or sinfo gave no answer).
-- Also: a queue's name is unique among queues not yet removed only, so `alloc rm x` then `alloc add
-- … --name x` works. SQLite cannot drop a column's UNIQUE, so both tables are rebuilt; allocations are
-- copied out first so that dropping alloc_queues cascades into nothing.
CREATE TEMP TABLE alloc_queues_v9 AS SELECT * FROM alloc_queues;
CREATE TEMP TABLE allocations_v9 AS SELECT * FROM allocations;
DROP TABLE allocations;
DROP TABLE alloc_queues;
CREATE TABLE alloc_queues (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  manager TEXT NOT NULL,
  pool TEXT NOT NULL,
  time_ms INTEGER NOT NULL,
  nodes INTEGER NOT NULL,
  backlog INTEGER NOT NULL,
  max_allocs INTEGER NOT NULL,
  idle_ms INTEGER NOT NULL,
  sbatch_args TEXT NOT NULL,
  status TEXT NOT NULL,
  reason TEXT,
  failures INTEGER NOT NULL DEFAULT 0,
  backoff_until INTEGER,
  last_error TEXT,
  sbatch_calls INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  node_cpus INTEGER,
  node_gpus INTEGER,
  cpus INTEGER,
  gpus INTEGER
);
CREATE UNIQUE INDEX alloc_queues_live_name ON alloc_queues(name) WHERE status != 'removed';
INSERT INTO alloc_queues (id, name, manager, pool, time_ms, nodes, backlog, max_allocs, idle_ms, sbatch_args, status, reason, failures, backoff_until, last_error, sbatch_calls, created_at, updated_at)
  SELECT id, name, manager, pool, time_ms, nodes, backlog, max_allocs, idle_ms, sbatch_args, status, reason, failures, backoff_until, last_error, sbatch_calls, created_at, updated_at FROM alloc_queues_v9;
CREATE TABLE allocations (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  queue_id TEXT NOT NULL REFERENCES alloc_queues(id) ON DELETE CASCADE,
  status TEXT NOT NULL,
  slurm_id TEXT,
  slurm_state TEXT,
  node TEXT,
  reason TEXT,
  message TEXT,
  token_id TEXT,
  dir TEXT NOT NULL,
  script TEXT NOT NULL,
  jobs_run INTEGER NOT NULL DEFAULT 0,
  connected_at TEXT,
  created_at TEXT NOT NULL,
  started_at TEXT,
  ended_at TEXT
);
INSERT INTO allocations SELECT * FROM allocations_v9;
CREATE INDEX allocations_queue ON allocations(queue_id, seq);
CREATE INDEX allocations_alive ON allocations(status) WHERE status IN ('submitting', 'pending', 'running');
-- retention GC reads ended allocations by age
CREATE INDEX allocations_ended ON allocations(ended_at) WHERE status IN ('ended', 'failed', 'canceled');
DROP TABLE alloc_queues_v9;
DROP TABLE allocations_v9;
