// Ports of retention GC: the rows it reads and the one removal it asks of the db (db/repos/gc.ts).
export interface GcRunRow { id: string; group_id: string; pipeline: string; status: string; dir: string; created_at: string; ended_at: string | null }

export interface GcRepo {
  pipelinesWithRuns(): string[];
  /** newest first */
  runsOf(pipeline: string): GcRunRow[];
  runExists(id: string): boolean;
  /** the runs (those still terminal) and everything below them, their status events, and groups left
   *  without runs; one transaction; returns the ids removed */
  deleteRuns(runs: GcRunRow[]): string[];
  /** topic events created before the cutoff that nothing holds any more (every delivery final, no run
   *  left): removed, or only counted when `dryRun`; returns how many */
  settledEvents(createdBefore: string, dryRun: boolean): number;
  /** allocations in a terminal state (ended, failed, canceled) that ended before the cutoff, oldest first */
  endedAllocations(endedBefore: string): GcAllocRow[];
  /** those allocations, if still terminal; one transaction; returns the ids removed */
  deleteAllocations(ids: string[]): string[];
  allocationExists(id: string): boolean;
  /** removed (`alloc rm`, drained) queues and how many allocation rows they still have */
  removedQueues(): { id: string; name: string; allocations: number }[];
  /** those queues, if still removed and without allocations; returns the ids removed */
  deleteRemovedQueues(ids: string[]): string[];
}

export interface GcAllocRow { id: string; queue_id: string; queue: string; status: string; dir: string; ended_at: string | null }

export interface GcRemoved { id: string; pipeline: string; status: string; ended_at: string | null; bytes: number; reason: 'keep_last' | 'max_age' }

export interface GcReport {
  dry_run: boolean;
  at: string;
  runs_removed: number;
  bytes_freed: number;
  runs: GcRemoved[];
  /** run folders with no run in the db (left by a crash), removed too */
  orphans: { dir: string; bytes: number }[];
  /** runs that the policy would remove but that are not terminal */
  skipped_active: number;
  /** topic events past the dedupe window whose deliveries are final and whose runs are gone */
  events_removed: number;
  pipelines: { pipeline: string; keep_last: number | null; max_age_ms: number | null; runs: number; removed: number }[];
  /** ended allocations (rows and `<data-dir>/alloc/<id>` folders) past --retention-max-age, and the
   *  removed queues left without allocations */
  allocations_removed: number;
  allocations: { id: string; queue: string; status: string; ended_at: string | null; bytes: number }[];
  alloc_queues_removed: string[];
}
