// Pipeline spec types: the normalised object validateSpec() returns (durations in ms, sizes in MiB).

export interface CommandSpec { run: string; allow_failure: boolean }
export interface Resources { cpus?: number; mem_mb?: number; gpus?: number; time_ms?: number; partition?: string; account?: string; qos?: string; fallback: 'cpu' | 'none'; sbatch?: string[] }
/** max: failed attempts retried per job; lost: lost attempts retried per job; budget: retries shared by all jobs of a run */
export interface RetryPolicy { max: number; backoff_ms: number; max_backoff_ms: number; lost: number; budget?: number }
/** matrix: this job's point of its job-level matrix (axis -> value); allow_failure: its failure does not fail the stage */
export interface JobSpec { name: string; matrix?: Record<string, unknown>; allow_failure?: boolean; executor: string; pool?: string; commands: CommandSpec[]; resources: Resources; env: Record<string,string>; timeout_ms?: number; retries?: RetryPolicy }
export interface StageSpec { name: string; needs: string[]; merge: 'fail'|'first'|'last'|'list'; jobs: JobSpec[] }
export interface WorkspaceSpec { path: string; create: boolean }
export interface PipelineSpec { name: string; description?: string; workspace?: WorkspaceSpec; env: Record<string,string>; secrets: string[]; params: Record<string, unknown>; matrix?: Record<string, unknown[]>; priority: number; retries: RetryPolicy; timeout_ms?: number; retention?: { keep_last?: number; max_age_ms?: number }; concurrency?: number; schedule?: { cron: string; timezone: string; overlap: 'skip'|'queue'|'allow'; catch_up: 'none'|'last'|'all' }; on?: { topic: string; max_concurrent?: number; max_runs_per_hour?: number }; webhook?: { secret: string }; validator?: { allow: string[] }; stages: StageSpec[] }
