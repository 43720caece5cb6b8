// Ports: how the core talks to the world. The core imports no Hono, bun:sqlite, ws or plugin;
// bootstrap.ts wires concrete implementations (db/store.ts, plugins/*) into these shapes.
import type {
  GroupRow, RunRow, StageRow, JobRow, CommandRow, AttemptRow, StatusEvent, TokenRow, PipelineRow, DaemonRow, NewSubmission, PendingFolderRun,
} from './types.ts';
import type { Resources } from './spec/types.ts';
import type { JobStatus, StageStatus, RunStatus, GroupStatus } from './states/index.ts';
import type { TriggerStore } from './triggers/store.ts';

export interface ListFilter { limit: number; cursor?: number | null; [col: string]: string | number | null | undefined }
/** The runs list: `trigger` is the trigger's kind; `collapse` keeps the newest matching run of each group. */
export interface RunFilter { limit: number; cursor?: number | null; status?: string; pipeline?: string; group_id?: string; trigger?: string; collapse?: boolean }
export interface Page<T> { items: T[]; next_cursor: number | null }
type Table = 'jobs' | 'stages' | 'runs' | 'groups';
/** The statuses of each table's state machine (src/core/states). */
export interface StatusOf { jobs: JobStatus; stages: StageStatus; runs: RunStatus; groups: GroupStatus }

/** Pipelines, submissions, and the rows of groups, runs, stages, jobs, attempts, commands and events. */
export interface RunStore {
  /** A guarded status change: false when another actor changed the row first (a lost race, normal);
   *  throws IllegalTransition for an edge the state machine does not have (a bug). */
  transition<T extends Table>(table: T, id: string, from: StatusOf[T], to: StatusOf[T], patch?: Record<string, unknown>, opts?: { attempt?: number; runId?: string | null; at: string }): boolean;
  pipelineLatest(name: string): PipelineRow | null;
  pipelineGet(name: string, version: number): PipelineRow | null;
  pipelineVersions(name: string): Omit<PipelineRow, 'spec'>[];
  pipelineInsert(row: PipelineRow): void;
  pipelinesList(): { name: string; version: number; updated_at: string }[];
  insertSubmission(s: NewSubmission): void;
  getGroup(id: string): GroupRow | null;
  getRun(id: string): RunRow | null;
  getStage(id: string): StageRow | null;
  getJob(id: string): JobRow | null;
  listRuns(f: RunFilter): Page<RunRow>;
  listGroups(f: ListFilter): Page<GroupRow>;
  listJobs(f: ListFilter): Page<JobRow>;
  stagesOfRun(runId: string): StageRow[];
  jobsOfRun(runId: string): JobRow[];
  jobsOfStage(stageId: string): JobRow[];
  /** the same rows as jobsOfStage and runsOfGroup, one at a time (finish the loop before the next call) */
  eachJobOfStage(stageId: string): IterableIterator<JobRow>;
  eachRunOfGroup(groupId: string): IterableIterator<RunRow>;
  eachJobOfRun(runId: string): IterableIterator<JobRow>;
  runsOfGroup(groupId: string): RunRow[];
  /** runs whose folder is still to be made (folder_pending), oldest first; their ids; mark them made */
  runsWithPendingFolder(limit: number): PendingFolderRun[];
  pendingFolderRunIds(): string[];
  markFoldersMade(ids: string[]): void;
  /** every job of a group's runs, in run, stage and job order (sweep results) */
  jobsOfGroup(groupId: string): JobRow[];
  jobsOfGroupWithStatus(groupId: string, status: string): JobRow[];
  jobsOfRunWithStatus(runId: string, status: string): JobRow[];
  stageHasActiveJobs(stageId: string): boolean;
  stageJobCounts(stageId: string): Record<string, number>;
  stageFailedJobCount(stageId: string): number;
  jobOutputsOfStage(stageId: string): (string | null)[];
  runStageCounts(runId: string): Record<string, number>;
  groupRunCounts(groupId: string): Record<string, number>;
  groupHasActiveRuns(groupId: string): boolean;
  countRunsWithStatus(pipeline: string, status: string): number;
  retriesUsedByRun(runId: string): number;
  runHasActiveStages(runId: string): boolean;
  /** `executors`: only jobs of these (max_parallel is reached: only ownQueue executors' jobs may start) */
  nextQueued(groupId: string, limit: number, nowMs: number, executors?: readonly string[]): JobRow[];
  /** groups with queued jobs (from the kept counts, not a count of the table) */
  queuedGroups(): { id: string; priority: number; status: string }[];
  jobsWithStatus(status: string): JobRow[];
  /** queued and running jobs in all, per group (by id) and per executor, kept in memory (db/job-counts.ts) */
  queueCounts(): QueueCounts;
  /** queued jobs of the group, of one executor when given (kept counts) */
  queuedCount(groupId: string, executor?: string): number;
  /** changes with every write (null inside a transaction): what cached read answers are checked against */
  writeMark(): string | null;
  activeGroups(): GroupRow[];
  /** remember that a cancel of the whole group was asked for (it ends canceled) */
  requestGroupCancel(id: string): void;
  earliestBackoff(nowMs: number): number | null;
  setJobFields(id: string, attempt: number, patch: { handle?: string | null; stop_reason?: string | null }): void;
  setStageOutputs(id: string, outputs: string): void;
  setJobStats(id: string, attempt: number, stats: string): void;
  runningJobsOf(executor: string): JobRow[];
  /** An attempt that ended, as one row (the attempt in progress has none: it is the job row's, see
   *  views.attemptsView; one statement per attempt instead of an insert at the start and an update at the end) */
  finishAttempt(a: AttemptRow): void;
  attemptsOf(jobId: string): AttemptRow[];
  insertCommand(c: CommandRow): void;
  commandsOf(jobId: string, attempt: number): CommandRow[];
  /** every command row of a run's jobs at their current attempt (one read for a whole run view) */
  commandsOfRun(runId: string): CommandRow[];
  /** what /metrics needs of jobs that started or ended: executor, times, stored log bytes (one read per batch) */
  jobTimings(jobIds: readonly string[]): JobTiming[];
  /** record an executor's handle; answers the job's status and stop reason (null: not that attempt any more) */
  recordHandle(id: string, attempt: number, handle: string): { status: string; stop_reason: string | null } | null;
  eventsSince(seq: number, limit: number): StatusEvent[];
  /** the status events committed by this process since the last call, in seq order; null when some
   *  were not kept (read the table instead) */
  takeCommittedEvents(): StatusEvent[] | null;
  lastEventSeq(): number;
  addBlockers(jobId: string, at: string, reasons: string): void;
  addBlockersForGroupQueued(groupId: string, at: string, reasons: string): void;
  blockersOf(jobId: string): { at: string; reasons: string }[];
}

export interface JobTiming { id: string; executor: string; run_id: string; queued_at: string | null; started_at: string | null; ended_at: string | null; log_bytes: number }

/** Remote agents' leases and the finalization markers (who applies an attempt's end). */
export interface LeaseStore {
  queuedForAgent(executors: string[], nowMs: number, limit: number): JobRow[];
  renewLease(id: string, token: string, expiresAt: number): boolean;
  expiredLeases(nowMs: number): JobRow[];
  extendLeases(minExpiry: number): number;
  claimFinalizer(id: string, attempt: number, token: string, since: number, until: number): boolean;
  renewFinalizer(id: string, token: string, until: number): boolean;
  takeOverFinalizer(id: string, old: string, token: string, nowMs: number, until: number): boolean;
  releaseFinalizer(id: string, token: string): boolean;
  stalledFinalizations(sinceBefore: number): JobRow[];
  expireFinalizers(): number;
}

/** API tokens, idempotency keys and the one-server-per-data-dir lock. */
export interface AccessStore {
  insertToken(t: TokenRow): void;
  tokenByHash(hash: string): TokenRow | null;
  listTokens(): Omit<TokenRow, 'hash'>[];
  deleteToken(id: string): boolean;
  countTokens(): number;
  idemGet(key: string): { key: string; body_hash: string; response: string; created_at: number } | null;
  idemPut(key: string, bodyHash: string, response: string, nowMs: number): void;
  idemPurge(beforeMs: number): void;
  daemonGet(): DaemonRow | null;
  daemonClaim(d: Omit<DaemonRow, 'id'>): void;
  daemonBeat(pid: number, at: string): boolean;
}

/** The whole store, by concern; each part can be handed on alone (a route needs only what it reads). */
export interface Tally { queued: number; running: number }
export interface QueueCounts { total: Tally; groups: [string, Tally][]; executors: [string, Tally][] }

export interface Store extends RunStore, LeaseStore, AccessStore {
  tx<T>(fn: () => T): T;
  /** schedules, topic events, per-attempt cost (db/repos/triggers.ts) */
  readonly triggers: TriggerStore;
  /** Resolves once every committed write is on stable storage; acknowledge writes only after it. */
  durable(): Promise<void>;
}

export interface Logger {
  info(msg: string, data?: Record<string, unknown>): void;
  warn(msg: string, data?: Record<string, unknown>): void;
  error(msg: string, data?: Record<string, unknown>): void;
  scope(fields: Record<string, unknown>): Logger;
}

export interface Clock { now(): number }

// --- executors ---

/** Everything an executor needs to run one attempt of a job; the script is already written. */
export interface PreparedJob {
  id: string; runId: string; attempt: number; name: string;
  dir: string;            // the job folder: job.sh, job.out, logs/, meta/
  script: string;         // path of job.sh
  workdir: string;
  commandCount: number;
  resources: Resources;
  env: Record<string, string>;
  timeoutMs: number | null;
  /** the text of job.sh, written by the scheduler before start() */
  scriptText?: string;
  /** the job's group (a sweep): executors that batch (sbatch --array) batch within one group */
  groupId?: string;
  /** the job has secrets: its runner writes raw/<n>.log, which the server's redacting copier turns into logs/ */
  rawLogs?: boolean;
}

/** Serializable: stored in jobs.handle so a restarted server can re-adopt the job. */
/** What an executor needs to find a job again; stored with the job. `v`: the executor API version it was
 *  written under (stamped by the guard; none = 1), so a server never misreads a newer drover's handle. */
export interface Handle { executor: string; dir: string; commandCount: number; pid?: number; v?: number; [k: string]: unknown }

export interface CommandResult { exit_code: number | null; started_at: string | null; ended_at: string | null; log_size: number }
export interface JobResult {
  rc: number | null; commands: CommandResult[]; outputs: Record<string, string>;
  /** files in the job folder that were not the runner's regular files (links…): ignored, and the job fails unsafe_file */
  unsafe?: string[];
  /** the runner refused to start the commands (workspace_escape: the workdir resolved outside the root) */
  refused?: { reason: string; message: string };
}

/** What an executor reports: a job that has ended (with its result files read), or is still alive. */
/** How an attempt ended when the executor knows better than the exit code (Slurm's CANCELLED, TIMEOUT, NODE_FAIL…). */
export interface ExitOutcome { status: 'succeeded' | 'failed' | 'canceled'; reason: string | null; message: string | null }

export type Observation =
  /** `handle`: adopt() found a better handle than the stored one (recorded like a fresh start's) */
  | { jobId: string; attempt: number; state: 'running'; handle?: Handle }
  | { jobId: string; attempt: number; state: 'exited'; result: JobResult; signal?: string | null; lostReason?: string; retryAfterMs?: number; outcome?: ExitOutcome; finalToken?: string }
  /** The executor restarted the job itself under the same handle (Slurm requeue): the attempt ends, the next
   *  one is already running; `result` holds what the ended attempt left, `handle` replaces the stored one. */
  | { jobId: string; attempt: number; state: 'requeued'; handle: Handle; reason: string; message: string; result?: JobResult; finalToken?: string };

export interface Capacity { available: boolean; slots: number; reason?: string; [k: string]: unknown }

export interface ExecutorContext {
  /** Push an observation into the scheduler (wakes the loop). */
  notify(obs: Observation): void;
  /** Store sampled telemetry (GPU utilisation, memory…) in the job's stats. */
  recordStats(jobId: string, attempt: number, stats: Record<string, unknown>): void;
  log: Logger;
}

/** A reason a job cannot start (yet), as a value; `why` shows it. */
export interface Blocker { code: string; message: string; [k: string]: unknown }

/** An executor's answer to "may this job start now?": resources it reserved, or why not. */
export type Admission =
  | { ok: true; env?: Record<string, string>; device?: Record<string, unknown>; logLine?: string }
  | { ok: false; blocker: Blocker; fail?: boolean };

/**
 * The executor contract: what the built-in local, gpu and slurm executors and every plugin implement
 * (plugins get it from `drover/plugin`; docs/PLUGINS.md says what each method must guarantee). The
 * engine holds them wrapped by the registry (plugins/registry.ts), which adds the name and guards each call.
 */
export interface Executor {
  /** Jobs go to a batch system with its own queue and limits (Slurm): they count against this
   *  executor's slots (max submitted), not the global max_parallel. */
  ownQueue?: boolean;
  /** adopt() finds a started job from its folder alone (a pid the runner wrote, a batch id file), so the
   *  handle start() returns may be stored with the next scheduler pass instead of one of its own. */
  adoptsFromFolder?: boolean;
  /** cancel() signals the job's whole process group, so a TERM reaches the command itself: the runner
   *  may then run a job's last command in its own process (one fork less per job). */
  signalsProcessGroup?: boolean;
  /** The host's context; the registry calls it once before detect() (plugins also get it in create()). */
  init?(ctx: ExecutorContext): void;
  detect(): Promise<Capacity>;
  start(job: PreparedJob): Promise<Handle>;
  poll(handles: { jobId: string; attempt: number; handle: Handle }[]): Promise<Observation[]>;
  cancel(handle: Handle, opts: { graceMs: number }): Promise<void>;
  adopt?(jobId: string, attempt: number, handle: Handle): Promise<Observation>;
  /** A static check of a job's resources at submit: the reason they can never run here (→ 400), or null. */
  checkResources?(resources: Resources): string | null;
  /** Reserve what the job needs (GPU indices…) just before it starts; a refusal keeps it queued (or fails it). */
  admit?(req: { jobId: string; attempt: number; resources: Resources }): Admission;
  /** Give back what admit() reserved; called once the job is no longer running, however it ended. */
  release?(jobId: string): void;
  /** After a restart: re-reserve what a re-adopted running job holds (from its stored device). */
  readmit?(jobId: string, device: Record<string, unknown>): void;
  /** Start several jobs at once (e.g. one sbatch --array); same order as the input. */
  startMany?(jobs: PreparedJob[]): Promise<Handle[]>;
  /** How often the scheduler should call poll() for this executor's running jobs; absent = never. */
  pollIntervalMs?(): number;
  /** Extra blockers for a queued or running job (e.g. Slurm's pending reason). */
  explain?(jobId: string, handle: Handle | null): Blocker[];
  /** Extra fields for GET /queue's executors.<name> (GPU list and holders, Slurm counts…). */
  describe?(): Record<string, unknown>;
  /** Extra Prometheus lines for /metrics. */
  metrics?(): string[];
}

/** An executor as the engine holds it: loaded through the registry, named, and every call guarded. */
export interface LoadedExecutor extends Executor {
  readonly name: string;
  /** 'built-in', or the absolute path of the plugin file */
  readonly source: string;
  readonly apiVersion: number;
  /** calls that threw, hung or answered nonsense, by call (for /metrics) */
  readonly callErrors: Readonly<Record<string, number>>;
  init(ctx: ExecutorContext): void;
}
