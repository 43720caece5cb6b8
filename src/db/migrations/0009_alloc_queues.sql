-- v9: allocation queues (pilot jobs, API.md §7). A queue submits Slurm allocations whose agent claims
-- the queue's pool's jobs; each allocation keeps its Slurm id (re-adopted after a restart, never
-- resubmitted), its script, its token's id (revoked when it ends) and what it did. Statuses:
-- src/core/states/alloc.ts.
CREATE TABLE alloc_queues (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
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
  updated_at TEXT NOT NULL
);
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
CREATE INDEX allocations_queue ON allocations(queue_id, seq);
CREATE INDEX allocations_alive ON allocations(status) WHERE status IN ('submitting', 'pending', 'running');
