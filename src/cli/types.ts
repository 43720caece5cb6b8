// The shapes the CLI reads from the HTTP API (API.md §2), and the Output port that
// cli/output/{human,json}.ts implement. Types only: the CLI never imports core/ or db/.

export type RunStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'canceled';
export type GroupStatus = 'running' | 'paused' | 'succeeded' | 'failed' | 'canceled';
export type JobStatus = 'pending' | 'queued' | 'running' | 'succeeded' | 'failed' | 'canceled' | 'skipped';

export const TERMINAL = new Set<string>(['succeeded', 'failed', 'canceled', 'skipped']);
export const isTerminal = (status: string | undefined) => status !== undefined && TERMINAL.has(status);

interface Times { created_at?: string | null; started_at?: string | null; ended_at?: string | null }

export interface Command {
  index: number; run: string; allow_failure?: boolean; exit_code?: number | null;
  started_at?: string | null; ended_at?: string | null; log_size?: number | null;
}
export interface Job extends Times {
  id: string; run_id: string; stage: string; name: string; executor: string; status: JobStatus;
  attempt: number; reason?: string | null; message?: string | null; exit_code?: number | null;
  outputs?: Record<string, unknown> | null; commands?: Command[]; attempts?: Record<string, unknown>[];
  /** the job's point of a job-level matrix */
  matrix?: Record<string, unknown> | null;
}
export interface Stage extends Times {
  id: string; name: string; status: string; needs?: string[]; outputs?: Record<string, unknown> | null;
  reason?: string | null; jobs: Job[];
}
export interface Run extends Times {
  id: string; pipeline: string; group_id?: string | null; status: RunStatus; reason?: string | null;
  message?: string | null; priority?: number; params?: Record<string, unknown>;
  trigger?: { kind: string; [k: string]: unknown }; stages?: Stage[]; cost?: Cost;
}
export interface Group extends Times {
  id: string; pipeline: string; status: GroupStatus; priority?: number; total: number;
  counts: Partial<Record<RunStatus, number>>; cost?: Cost;
}
/** Resource use of finished attempts (GET /runs/:id, /groups/:id, /pipelines/:name). */
export interface Cost { cpu_seconds: number; wall_seconds: number; gpu_seconds: number; attempts: number }
export interface Page<T> { items: T[]; next_cursor: string | null }
export type SubmitResult = { run: Run } | { group: Group; runs: Run[] };
export interface Preview {
  runs?: number; jobs?: number; matrix?: Record<string, unknown>[];
  executors?: Record<string, number>; cpu_hours?: number; gpu_hours?: number; [k: string]: unknown;
}
/** One run of a sweep (GET /groups/:id/results). */
export interface ResultRow {
  run_id: string; status: string; params: Record<string, unknown>; outputs: Record<string, string>;
  exit_code: number | null; started_at: string | null; ended_at: string | null; took_s: number | null;
}
export interface Reason { code: string; message?: string; [k: string]: unknown }
export interface Why { blocked: boolean; reasons: Reason[]; history?: { at: string; reasons: Reason[] }[] }
export interface Queue {
  max_parallel?: number; running?: number | unknown[]; queued?: number | unknown[];
  executors?: Record<string, Record<string, unknown>>;
  groups?: { id: string; status: string; running?: number; queued?: number }[];
  daemon?: { pid?: number; started_at?: string; heartbeat_at?: string; version?: string };
  alloc_queues?: import('./output/alloc.ts').AllocQueueView[];
}
export interface Token { id: string; name?: string; role: string; token?: string; created_at?: string; [k: string]: unknown }

export type ListKind = 'runs' | 'groups' | 'jobs';

/** How a command prints what the server said; chosen once per invocation (`--json` or not). */
export interface Output {
  submitted(res: SubmitResult): void;
  preview(p: Preview): void;
  finished(target: Run | Group): void;
  list(kind: ListKind, page: Page<Run> | Page<Group> | Page<Job>): void;
  run(run: Run): void;
  group(group: Group, results?: ResultRow[]): void;
  results(rows: ResultRow[]): void;
  job(job: Job): void;
  why(why: Why): void;
  queue(q: Queue): void;
  gc(report: unknown, dryRun: boolean): void;
  action(verb: string, id: string, res: unknown): void;
  tokenCreated(t: Token): void;
  tokens(list: Page<Token> | Token[]): void;
  text(s: string): void;
}
