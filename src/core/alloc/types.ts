// Allocation queues: the rows, the store port (db/repos/alloc.ts) and the batch-system port
// (plugins/slurm/alloc-backend.ts). The core knows Slurm only through AllocBackend.
import type { AllocStatus, AllocQueueStatus } from '../states/alloc.ts';

export interface AllocQueueRow {
  id: string; name: string; manager: string; pool: string;
  time_ms: number; nodes: number; backlog: number; max_allocs: number; idle_ms: number;
  /** JSON array of the extra sbatch arguments */
  sbatch_args: string;
  status: AllocQueueStatus; reason: string | null;
  /** submission failures in a row, and when the next try may go */
  failures: number; backoff_until: number | null; last_error: string | null;
  sbatch_calls: number;
  created_at: string; updated_at: string;
  /** one node of the partition as Slurm describes it (sinfo at `alloc add`); null: unknown */
  node_cpus: number | null; node_gpus: number | null;
  /** what one allocation gets per node: its sbatch arguments bounded by the node (shape.ts); null: queues
   *  added before drover knew shapes, read from the arguments then */
  cpus: number | null; gpus: number | null;
}

export interface AllocationRow {
  seq: number; id: string; queue_id: string; status: AllocStatus;
  slurm_id: string | null; slurm_state: string | null; node: string | null;
  reason: string | null; message: string | null;
  token_id: string | null; dir: string; script: string; jobs_run: number;
  connected_at: string | null; created_at: string; started_at: string | null; ended_at: string | null;
}

export type QueuePatch = Partial<Pick<AllocQueueRow, 'reason' | 'failures' | 'backoff_until' | 'last_error' | 'sbatch_calls' | 'updated_at'>>;
export type AllocPatch = Partial<Pick<AllocationRow, 'slurm_id' | 'slurm_state' | 'node' | 'reason' | 'message' | 'token_id' | 'started_at' | 'ended_at' | 'connected_at'>>;

export interface AllocStore {
  insertQueue(q: AllocQueueRow): void;
  /** every queue but removed ones */
  queues(): AllocQueueRow[];
  /** by id or name (removed queues only by id) */
  queue(ref: string): AllocQueueRow | null;
  patchQueue(id: string, patch: QueuePatch): void;
  /** guarded: false when the queue is no longer in `from`; an illegal edge throws */
  transitionQueue(id: string, from: AllocQueueRow['status'], to: AllocQueueRow['status'], patch?: QueuePatch): boolean;
  insertAllocation(a: AllocationRow): void;
  allocation(id: string): AllocationRow | null;
  allocationsOf(queueId: string, limit: number): AllocationRow[];
  alive(): AllocationRow[];
  patchAllocation(id: string, patch: AllocPatch): void;
  transitionAllocation(id: string, from: AllocationRow['status'], to: AllocationRow['status'], patch?: AllocPatch): boolean;
  addJobsRun(id: string, n: number): void;
  /** allocations per queue and status (for /metrics and the queue view) */
  countsByStatus(): { queue_id: string; status: AllocationRow['status']; n: number; jobs: number }[];
}

export interface NodeShape { cpus: number; gpus: number }

/** What the batch system says of one allocation: its phase in drover's terms, and its own state words. */
export interface AllocObservation { slurmId: string; phase: 'pending' | 'running' | 'ended'; state: string; reason: string; node: string }

export interface SubmitRequest { name: string; scriptPath: string; outputPath: string; timeMs: number; nodes: number; args: string[] }

/** The batch system, as allocation queues need it (one implementation: Slurm). */
export interface AllocBackend {
  /** null when the extra arguments may go to the batch system, else why not (options drover sets itself) */
  checkArgs(args: string[]): string | null;
  /** checks the arguments without queueing anything (`sbatch --test-only`): null when fine, else the batch system's
   *  message — `unavailable` when it did not answer (so nothing was decided about the arguments) */
  test(req: Omit<SubmitRequest, 'scriptPath' | 'outputPath'>): Promise<{ message: string; unavailable: boolean } | null>;
  submit(req: SubmitRequest): Promise<{ ok: true; slurmId: string } | { ok: false; error: string; unknown: boolean }>;
  /** one query for all: by job name; null when the batch system did not answer */
  observe(names: string[]): Promise<Map<string, AllocObservation> | null>;
  cancel(slurmId: string): Promise<void>;
  /** the hosts the allocation's partition has (for the advertise-url warning); null when unknown */
  hosts(args: string[]): Promise<string[] | null>;
  /** the CPUs and GPUs of one node of the allocation's partition (the smallest, when they differ); null when unknown */
  nodeShape(args: string[]): Promise<NodeShape | null>;
  /** counters for /metrics */
  calls(): { sbatch: number; sbatch_failures: number };
}

/** Agent tokens made for allocations. */
export interface AllocTokens {
  create(name: string): { id: string; token: string };
  revoke(id: string): void;
}
