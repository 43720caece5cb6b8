// Row shapes the core works with (snake_case, as stored and as served by the API).
import type { JobStatus, StageStatus, RunStatus, GroupStatus } from './states/index.ts';

export interface Trigger { kind: 'manual' | 'api' | 'sweep' | 'schedule' | 'event' | 'webhook'; [k: string]: unknown }

export interface GroupRow {
  seq: number; id: string; pipeline: string; status: GroupStatus; priority: number; is_sweep: number; total: number;
  trigger: string; created_at: string; ended_at: string | null;
  /** a cancel of the whole group was asked for (migration 0006): the group ends canceled */
  cancel_requested: number;
}
export interface RunRow {
  seq: number; id: string; group_id: string; pipeline: string; pipeline_version: number; status: RunStatus;
  reason: string | null; message: string | null; priority: number; params: string; trigger: string;
  workspace: string | null; dir: string; created_at: string; started_at: string | null; ended_at: string | null;
  /** 1 while the scheduler has still to make the run's folder (a big sweep's later runs) */
  folder_pending: number;
}
/** what making a run's folder needs (runs.folder_pending: made after the submit answered) */
export type PendingFolderRun = Pick<RunRow, 'id' | 'group_id' | 'pipeline' | 'pipeline_version' | 'params' | 'trigger' | 'dir' | 'created_at'>;
export interface StageRow {
  id: string; run_id: string; idx: number; name: string; status: StageStatus; needs: string; merge: string;
  outputs: string | null; reason: string | null; message: string | null; started_at: string | null; ended_at: string | null;
}
export interface JobRow {
  seq: number; id: string; run_id: string; stage_id: string; group_id: string; stage_idx: number; job_idx: number;
  name: string; executor: string; status: JobStatus; attempt: number; failures: number; lost: number; priority: number;
  reason: string | null; message: string | null; exit_code: number | null; created_at: string; queued_at: string | null;
  started_at: string | null; ended_at: string | null; deadline_at: number | null; backoff_until: number | null;
  stop_reason: string | null; handle: string | null; outputs: string | null; lease_token: string | null; lease_expires_at: number | null;
  device: string | null; stats: string | null;
  /** the finalization marker (migration 0005): who applies this attempt's end, since and until when */
  final_token: string | null; final_since: number | null; final_until: number | null;
  /** a job-level matrix point, JSON (migration 0006); allow_failure 1: its failure does not fail the stage */
  matrix: string | null; allow_failure: number;
}
export interface CommandRow { job_id: string; attempt: number; idx: number; exit_code: number | null; started_at: string | null; ended_at: string | null; log_size: number }
export interface AttemptRow { job_id: string; attempt: number; status: JobStatus; reason: string | null; message: string | null; exit_code: number | null; started_at: string | null; ended_at: string | null }
export interface StatusEvent { seq: number; kind: 'run' | 'stage' | 'job' | 'group'; id: string; run_id: string | null; status: string; at: string }

export type Role = 'admin' | 'user' | 'reader' | 'agent';
export interface TokenRow { id: string; name: string; role: Role; hash: string; created_at: string; last_used_at: string | null }

// A submission as the core plans it and the store writes it, in one transaction.
export interface NewStage { id: string; idx: number; name: string; status: string; needs: string[]; merge: string }
export interface NewJob { id: string; stage_id: string; stage_idx: number; job_idx: number; name: string; executor: string; status: string; queued_at: string | null; matrix?: Record<string, unknown> | null; allow_failure?: boolean }
export interface NewRun { id: string; pipeline_version: number; params: Record<string, unknown>; trigger: object; workspace: string | null; dir: string; stages: NewStage[]; jobs: NewJob[]; folder_pending?: boolean }
export interface NewSubmission { group: Omit<GroupRow, 'seq' | 'ended_at' | 'cancel_requested'>; pipeline: string; priority: number; created_at: string; runs: NewRun[] }

export interface PipelineRow { name: string; version: number; spec: string; spec_hash: string; created_at: string }
export interface DaemonRow { id: number; pid: number; host: string; started_at: string; heartbeat_at: string; version: string }
