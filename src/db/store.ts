// SqliteStore: the one implementation of core's Store port. Every query is a prepared statement;
// writers that change a status go through transitionWriter (conditional, evented).
import type { Database } from 'bun:sqlite';
import type { Store, ListFilter, Page, RunFilter, JobTiming } from '../core/ports.ts';
import type { GroupRow, RunRow, StageRow, JobRow, CommandRow, AttemptRow, StatusEvent, TokenRow, PipelineRow, DaemonRow, PendingFolderRun } from '../core/types.ts';
import { submissionWriter, type NewSubmission } from './repos/submissions.ts';
import { eachRow } from './repos/multi-insert.ts';
import { transitionWriter, type IllegalTransition } from './repos/transitions.ts';
import { TriggerRepo } from './repos/triggers.ts';
import { GroupCommit } from './durability.ts';
import { EventBuffer, type NewEvent } from './event-buffer.ts';
import { RowCache, ListCache } from './row-cache.ts';
import { JobCounts, type CountRow } from './job-counts.ts';
import { RunCounts, type RunCountRow } from './run-counts.ts';
import { runMachine, stageMachine, groupMachine } from '../core/states/index.ts';

/** (collapsed runs) below the group of the cursor's run: the cursor is the last row shown, its group's newest */
const BELOW_CURSOR_GROUP = `a.seq < coalesce((SELECT min(g.seq) FROM runs g WHERE g.group_id = (SELECT c.group_id FROM runs c WHERE c.seq = ?)), ?)`;

export class SqliteStore implements Store {
  private q: Record<string, ReturnType<Database['prepare']>> = {};
  private writeSubmission: (s: NewSubmission) => void;
  readonly transition: ReturnType<typeof transitionWriter>;
  // live rows the scheduler reads for every job (row-cache.ts says when they are dropped)
  private readonly runs = new RowCache<RunRow>((r) => !runMachine.isTerminal(r.status as never));
  private readonly groups = new RowCache<GroupRow>((g) => !groupMachine.isTerminal(g.status as never));
  private readonly stages = new RowCache<StageRow>((s) => !stageMachine.isTerminal(s.status as never));
  private readonly stageLists = new ListCache<StageRow>((l) => l.some((s) => !stageMachine.isTerminal(s.status as never)));
  readonly triggers: TriggerRepo;

  readonly commits: GroupCommit;
  /** queued/running jobs per group and executor, moved by the status writers (job-counts.ts) */
  readonly jobCounts = new JobCounts();
  /** runs per group and status, moved by the writers of runs (run-counts.ts) */
  readonly runCounts = new RunCounts();
  /** the status events this process committed, for the publisher (no read-back) */
  readonly events: EventBuffer;

  constructor(readonly db: Database, onIllegal: (e: IllegalTransition) => void, file = db.filename) {
    const changes = db.prepare('SELECT total_changes() AS n');
    this.commits = new GroupCommit(file, () => (changes.get() as { n: number }).n);
    const insOne = db.prepare('INSERT INTO status_events (kind, entity_id, run_id, status, at) VALUES ($kind, $id, $run_id, $status, $at) RETURNING seq');
    const insMany = db.prepare(`INSERT INTO status_events (kind, entity_id, run_id, status, at)
      SELECT value->>'kind', value->>'id', value->>'run_id', value->>'status', value->>'at' FROM json_each(?) ORDER BY key RETURNING seq`);
    const insSlice = db.prepare(`INSERT INTO status_events (kind, entity_id, run_id, status, at)
      SELECT value->>'kind', value->>'id', value->>'run_id', value->>'status', value->>'at' FROM json_each(?) ORDER BY key`);
    this.events = new EventBuffer((evs) => evs.length === 1
      ? [(insOne.get(evs[0] as never) as { seq: number }).seq]
      : (insMany.all(JSON.stringify(evs)) as { seq: number }[]).map((r) => r.seq).sort((a, b) => a - b),
    (evs) => { for (let i = 0; i < evs.length; i += 1000) insSlice.run(JSON.stringify(evs.slice(i, i + 1000))); });
    const onEvent = (e: NewEvent) => this.events.add(e);
    this.writeSubmission = submissionWriter(db, onEvent, {
      job: (group, executor, status) => this.jobCounts.moved(group, executor, null, status),
      run: (group) => this.runCounts.moved(group, null, 'queued'),
    });
    const write = transitionWriter(db, onIllegal, onEvent, (table, row, from, to) => {
      if (table === 'jobs') this.jobCounts.moved(row.group_id, row.executor!, from, to); else this.runCounts.moved(row.group_id, from, to);
    });
    this.transition = (table, id, from, to, patch, opts) => {
      this.forget(table, id, opts.runId);
      return write(table, id, from, to, patch, opts);
    };
    this.triggers = new TriggerRepo(db, onIllegal);
    this.jobCounts.load(this.countJobs());
    this.runCounts.load(this.countRuns());
  }

  /** A fresh count of runs per group and status (at open; audited like countJobs). */
  countRuns(): RunCountRow[] {
    return this.p('SELECT group_id, status, count(*) AS n FROM runs GROUP BY group_id, status').all() as RunCountRow[];
  }
  /** retention GC removed a run (repos/gc.ts, inside a store transaction) */
  runDeleted(group: string, status: string): void { this.runCounts.moved(group, status, null); }

  /** A fresh count of queued and running jobs (at open; the harness audits the kept counts with it). */
  countJobs(): CountRow[] {
    return this.p(`SELECT group_id, executor, status, count(*) AS n FROM jobs WHERE status IN ('queued', 'running') GROUP BY group_id, executor, status`).all() as CountRow[];
  }

  private p(sql: string) {
    return (this.q[sql] ??= this.db.prepare(sql));
  }

  private forget(table: string, id: string, runId: string | null | undefined): void {
    if (table === 'runs') { this.runs.drop(id); if (runId ?? id) this.stageLists.drop(runId ?? id); }
    else if (table === 'groups') this.groups.drop(id);
    else if (table === 'stages') { this.stages.drop(id); if (runId) this.stageLists.drop(runId); else this.stageLists.clear(); }
  }
  private forgetAll(): void { this.runs.clear(); this.groups.clear(); this.stages.clear(); this.stageLists.clear(); }

  tx<T>(fn: () => T): T {
    let out: T;
    try {
      out = this.runCounts.within(() => this.jobCounts.within(() => this.events.within(() => this.db.transaction(() => { const r = fn(); this.events.flush(); return r; })())));
    } catch (err) {
      this.forgetAll(); // a row read inside the transaction may never have been committed
      throw err;
    }
    this.commits.markDirty();
    return out;
  }

  /** Moves with every row this connection changes and every commit of another connection; null inside a
   *  transaction (what is read there may roll back). Answers cached under one mark stay right until it moves. */
  writeMark(): string | null {
    if (this.db.inTransaction) return null;
    const m = this.p('SELECT total_changes() AS c, (SELECT data_version FROM pragma_data_version) AS v').get() as { c: number; v: number };
    return `${m.c}:${m.v}`;
  }

  /** Resolves once every committed write is on stable storage (group commit). */
  durable(): Promise<void> { return this.commits.durable(); }

  // pipelines
  pipelineLatest(name: string) {
    return this.p('SELECT name, version, spec, spec_hash, created_at FROM pipelines WHERE name = ? ORDER BY version DESC LIMIT 1').get(name) as PipelineRow | null;
  }
  pipelineGet(name: string, version: number) {
    return this.p('SELECT name, version, spec, spec_hash, created_at FROM pipelines WHERE name = ? AND version = ?').get(name, version) as PipelineRow | null;
  }
  pipelineVersions(name: string) {
    return this.p('SELECT name, version, spec_hash, created_at FROM pipelines WHERE name = ? ORDER BY version DESC').all(name) as Omit<PipelineRow, 'spec'>[];
  }
  pipelineInsert(row: PipelineRow) {
    this.p('INSERT INTO pipelines (name, version, spec, spec_hash, created_at) VALUES ($name, $version, $spec, $spec_hash, $created_at)').run(row as never);
  }
  pipelinesList() {
    return this.p('SELECT name, max(version) AS version, max(created_at) AS updated_at FROM pipelines GROUP BY name ORDER BY name').all() as { name: string; version: number; updated_at: string }[];
  }

  insertSubmission(s: NewSubmission) { this.writeSubmission(s); }

  // single rows
  getGroup(id: string) { return this.groups.get(id, () => this.p('SELECT * FROM groups WHERE id = ?').get(id) as GroupRow | null); }
  getRun(id: string) { return this.runs.get(id, () => this.p('SELECT * FROM runs WHERE id = ?').get(id) as RunRow | null); }
  getStage(id: string) { return this.stages.get(id, () => this.p('SELECT * FROM stages WHERE id = ?').get(id) as StageRow | null); }
  getJob(id: string) { return this.p('SELECT * FROM jobs WHERE id = ?').get(id) as JobRow | null; }

  // lists (newest first, cursor = seq of the last item seen)
  /** Runs, newest first; `trigger` filters on the trigger's kind; `collapse` keeps only the newest
   *  matching run of each group (the page shows a sweep as one row). */
  listRuns(f: RunFilter): Page<RunRow> {
    const conds = (t: string) => {
      const where: string[] = [];
      const args: (string | number)[] = [];
      for (const c of ['status', 'pipeline', 'group_id'] as const) {
        const v = f[c];
        if (v !== undefined && v !== null && v !== '') { where.push(`${t}.${c} = ?`); args.push(v); }
      }
      if (f.trigger) { where.push(`json_extract(${t}.trigger, '$.kind') = ?`); args.push(f.trigger); }
      return { where, args };
    };
    let rows: RunRow[];
    if (f.collapse) rows = this.collapsedRuns(conds, f.cursor ?? null, f.limit + 1);
    else {
      const { where, args } = conds('r');
      if (f.cursor) { where.push('r.seq < ?'); args.push(f.cursor); }
      rows = this.p(`SELECT r.* FROM runs r${where.length ? ' WHERE ' + where.join(' AND ') : ''} ORDER BY r.seq DESC LIMIT ${f.limit + 1}`).all(...args) as RunRow[];
    }
    const more = rows.length > f.limit;
    const items = more ? rows.slice(0, f.limit) : rows;
    return { items, next_cursor: more ? items[items.length - 1]!.seq : null };
  }
  /** The newest matching run below the cursor, then the newest matching run below its group, and so on:
   *  a few seeks per row shown, however many runs a sweep has (the former "is it its group's newest"
   *  test per run scanned every run of a 10,000-run sweep). A group's runs are inserted together by one
   *  submission and nothing adds runs to a group later, so they are contiguous in seq: "below its group"
   *  is below the group's smallest seq (runs_group_seq). */
  private collapsedRuns(conds: (t: string) => { where: string[]; args: (string | number)[] }, cursor: number | null, n: number): RunRow[] {
    const first = conds('a'), next = conds('b');
    const sql = `WITH RECURSIVE pick(seq) AS (
        SELECT (SELECT max(a.seq) FROM runs a WHERE ${[BELOW_CURSOR_GROUP, ...first.where].join(' AND ')})
        UNION ALL
        SELECT (SELECT max(b.seq) FROM runs b WHERE ${['b.seq < (SELECT min(g.seq) FROM runs g WHERE g.group_id = (SELECT c.group_id FROM runs c WHERE c.seq = pick.seq))', ...next.where].join(' AND ')})
          FROM pick WHERE pick.seq IS NOT NULL LIMIT ${n})
      SELECT r.* FROM pick JOIN runs r ON r.seq = pick.seq ORDER BY r.seq DESC`;
    return this.p(sql).all(cursor || Number.MAX_SAFE_INTEGER, cursor || Number.MAX_SAFE_INTEGER, ...first.args, ...next.args) as RunRow[];
  }
  listGroups(f: ListFilter): Page<GroupRow> {
    return this.page('groups', f, ['status', 'pipeline']);
  }
  listJobs(f: ListFilter): Page<JobRow> {
    return this.page('jobs', f, ['status', 'run_id', 'group_id']);
  }
  private page<T extends { seq: number }>(table: string, f: ListFilter, cols: string[]): Page<T> {
    const where: string[] = [];
    const args: (string | number)[] = [];
    for (const c of cols) {
      const v = f[c];
      if (v !== undefined && v !== null && v !== '') { where.push(`${c} = ?`); args.push(v); }
    }
    if (f.cursor) { where.push('seq < ?'); args.push(f.cursor); }
    const limit = f.limit;
    const sql = `SELECT * FROM ${table}${where.length ? ' WHERE ' + where.join(' AND ') : ''} ORDER BY seq DESC LIMIT ${limit + 1}`;
    const rows = this.p(sql).all(...args) as T[];
    const more = rows.length > limit;
    const items = more ? rows.slice(0, limit) : rows;
    return { items, next_cursor: more ? items[items.length - 1]!.seq : null };
  }

  stagesOfRun(runId: string) { return this.stageLists.get(runId, () => this.p('SELECT * FROM stages WHERE run_id = ? ORDER BY idx').all(runId) as StageRow[]); }
  jobsOfRun(runId: string) { return this.p('SELECT * FROM jobs WHERE run_id = ? ORDER BY stage_idx, job_idx').all(runId) as JobRow[]; }
  /** The jobs of a stage one at a time from a cursor (a stage of 100,000 jobs is never one array). */
  // (statements of their own: a cursor in progress must not share its statement with another read)
  eachJobOfStage(stageId: string) { return eachRow<JobRow>(this.p('SELECT * FROM jobs WHERE stage_id = ? ORDER BY job_idx -- each').iterate(stageId)); }
  eachJobOfRun(runId: string) { return eachRow<JobRow>(this.p('SELECT * FROM jobs WHERE run_id = ? ORDER BY stage_idx, job_idx -- each').iterate(runId)); }
  eachRunOfGroup(groupId: string) { return eachRow<RunRow>(this.p('SELECT * FROM runs WHERE group_id = ? ORDER BY seq -- each').iterate(groupId)); }
  jobsOfStage(stageId: string) { return this.p('SELECT * FROM jobs WHERE stage_id = ? ORDER BY job_idx').all(stageId) as JobRow[]; }
  /** Runs whose folder the scheduler has still to make, oldest first (a big sweep's later runs). */
  runsWithPendingFolder(limit: number) {
    return this.p('SELECT id, group_id, pipeline, pipeline_version, params, trigger, dir, created_at FROM runs WHERE folder_pending = 1 ORDER BY seq LIMIT ?').all(limit) as PendingFolderRun[];
  }
  pendingFolderRunIds() { return (this.p('SELECT id FROM runs WHERE folder_pending = 1 ORDER BY seq').values() as string[][]).map((r) => r[0]!); }
  markFoldersMade(ids: string[]) {
    for (const id of ids) this.runs.drop(id);
    this.p('UPDATE runs SET folder_pending = 0 WHERE id IN (SELECT value FROM json_each(?))').run(JSON.stringify(ids));
  }
  runsOfGroup(groupId: string) { return this.p('SELECT * FROM runs WHERE group_id = ? ORDER BY seq').all(groupId) as RunRow[]; }
  jobsOfGroup(groupId: string) { return this.p('SELECT jobs.* FROM runs JOIN jobs ON jobs.run_id = runs.id WHERE runs.group_id = ? ORDER BY jobs.seq').all(groupId) as JobRow[]; }
  jobsOfGroupWithStatus(groupId: string, status: string) {
    return this.p('SELECT * FROM jobs WHERE group_id = ? AND status = ? ORDER BY seq').all(groupId, status) as JobRow[];
  }
  jobsOfRunWithStatus(runId: string, status: string) {
    return this.p('SELECT * FROM jobs WHERE run_id = ? AND status = ? ORDER BY seq').all(runId, status) as JobRow[];
  }

  stageHasActiveJobs(stageId: string) {
    return !!this.p(`SELECT 1 FROM jobs WHERE stage_id = ? AND status IN ('pending', 'queued', 'running') LIMIT 1`).get(stageId);
  }
  /** failed jobs of a stage that fail it (not `allow_failure`) */
  stageFailedJobCount(stageId: string) { return (this.p(`SELECT count(*) AS n FROM jobs WHERE stage_id = ? AND status = 'failed' AND allow_failure = 0`).get(stageId) as { n: number }).n; }
  /** each job's outputs (JSON text or null), in job order */
  jobOutputsOfStage(stageId: string) { return (this.p('SELECT outputs FROM jobs WHERE stage_id = ? ORDER BY job_idx').values(stageId) as [string | null][]).map((r) => r[0]); }
  stageJobCounts(stageId: string) { return this.counts('SELECT status, count(*) AS n FROM jobs WHERE stage_id = ? GROUP BY status', stageId); }
  runStageCounts(runId: string) { return this.counts('SELECT status, count(*) AS n FROM stages WHERE run_id = ? GROUP BY status', runId); }
  // leases (remote agents)
  queuedForAgent(executors: string[], nowMs: number, limit: number) {
    if (executors.length === 0) return [];
    const marks = executors.map(() => '?').join(', ');
    return this.p(`SELECT j.* FROM jobs j JOIN groups g ON g.id = j.group_id WHERE j.status = 'queued' AND g.status = 'running' AND j.executor IN (${marks}) AND (j.backoff_until IS NULL OR j.backoff_until <= ?) ORDER BY j.priority DESC, j.seq LIMIT ?`)
      .all(...executors, nowMs, limit) as JobRow[];
  }
  renewLease(id: string, token: string, expiresAt: number) {
    return this.p(`UPDATE jobs SET lease_expires_at = ? WHERE id = ? AND status = 'running' AND lease_token = ?`).run(expiresAt, id, token).changes === 1;
  }
  expiredLeases(nowMs: number) {
    return this.p(`SELECT * FROM jobs WHERE status = 'running' AND lease_token IS NOT NULL AND lease_expires_at < ? ORDER BY seq`).all(nowMs) as JobRow[];
  }
  /** After a server outage: no lease expires before `minExpiry` (the agents could not reach us). */
  extendLeases(minExpiry: number) {
    return this.p(`UPDATE jobs SET lease_expires_at = ? WHERE status = 'running' AND lease_token IS NOT NULL AND lease_expires_at < ?`).run(minExpiry, minExpiry).changes;
  }
  // finalization markers (tier (b) of the reaper): conditional, so one attempt has one owner at a time
  claimFinalizer(id: string, attempt: number, token: string, since: number, until: number) {
    return this.p(`UPDATE jobs SET final_token = $token, final_since = coalesce(final_since, $since), final_until = $until WHERE id = $id AND attempt = $attempt AND status = 'running' AND (final_token IS NULL OR final_token = $token OR final_until < $since)`)
      .run({ id, attempt, token, since, until } as never).changes === 1;
  }
  renewFinalizer(id: string, token: string, until: number) {
    return this.p(`UPDATE jobs SET final_until = ? WHERE id = ? AND status = 'running' AND final_token = ?`).run(until, id, token).changes === 1;
  }
  takeOverFinalizer(id: string, old: string, token: string, nowMs: number, until: number) {
    return this.p(`UPDATE jobs SET final_token = ?, final_until = ? WHERE id = ? AND status = 'running' AND final_token = ? AND final_until < ?`).run(token, until, id, old, nowMs).changes === 1;
  }
  releaseFinalizer(id: string, token: string) {
    return this.p(`UPDATE jobs SET final_token = NULL, final_since = NULL, final_until = NULL WHERE id = ? AND final_token = ?`).run(id, token).changes === 1;
  }
  /** Running jobs whose end was observed before `sinceBefore` and is still not applied. */
  stalledFinalizations(sinceBefore: number) {
    return this.p(`SELECT * FROM jobs WHERE final_token IS NOT NULL AND final_since < ? AND status = 'running' ORDER BY final_since`).all(sinceBefore) as JobRow[];
  }
  /** At start: the finalizers of a previous server died with it. */
  expireFinalizers() {
    return this.p(`UPDATE jobs SET final_until = 0 WHERE final_token IS NOT NULL`).run().changes;
  }
  retriesUsedByRun(runId: string) {
    return (this.p('SELECT coalesce(sum(failures + lost), 0) AS n FROM jobs WHERE run_id = ?').get(runId) as { n: number }).n;
  }
  countRunsWithStatus(pipeline: string, status: string) {
    return (this.p('SELECT count(*) AS n FROM runs WHERE pipeline = ? AND status = ?').get(pipeline, status) as { n: number }).n;
  }
  groupHasActiveRuns(groupId: string) {
    return !!this.p(`SELECT 1 FROM runs WHERE group_id = ? AND status IN ('queued', 'running') LIMIT 1`).get(groupId);
  }
  runHasActiveStages(runId: string) {
    return !!this.p(`SELECT 1 FROM stages WHERE run_id = ? AND status IN ('pending', 'running') LIMIT 1`).get(runId);
  }
  groupRunCounts(groupId: string) { return this.runCounts.of(groupId); } // (kept: run-counts.ts)
  private counts(sql: string, id: string): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of this.p(sql).all(id) as { status: string; n: number }[]) out[r.status] = r.n;
    return out;
  }

  // scheduling
  nextQueued(groupId: string, limit: number, nowMs: number, executors?: readonly string[]) {
    if (executors) {
      return this.p(`SELECT * FROM jobs WHERE status = 'queued' AND group_id = ? AND (backoff_until IS NULL OR backoff_until <= ?) AND executor IN (SELECT value FROM json_each(?)) ORDER BY priority DESC, seq LIMIT ?`).all(groupId, nowMs, JSON.stringify(executors), limit) as JobRow[];
    }
    return this.p(`SELECT * FROM jobs WHERE status = 'queued' AND group_id = ? AND (backoff_until IS NULL OR backoff_until <= ?) ORDER BY priority DESC, seq LIMIT ?`).all(groupId, nowMs, limit) as JobRow[];
  }
  /** Groups with queued jobs and their priority, from the kept counts: no scan of every queued job
   *  (200 ms a second at 100,000). */
  queuedGroups() {
    const out: { id: string; priority: number; status: string }[] = [];
    for (const [id, t] of this.jobCounts.byGroup()) {
      const g = t.queued > 0 ? this.getGroup(id) : null;
      if (g) out.push({ id, priority: g.priority, status: g.status }); // (a job's priority is its group's)
    }
    return out;
  }
  jobsWithStatus(status: string) { return this.p('SELECT * FROM jobs WHERE status = ? ORDER BY seq').all(status) as JobRow[]; }
  queuedCount(groupId: string, executor?: string) { return (executor === undefined ? this.jobCounts.group(groupId) : this.jobCounts.of(groupId, executor)).queued; }
  queueCounts() { return { total: this.jobCounts.total, groups: this.jobCounts.byGroup(), executors: this.jobCounts.byExecutor() }; }
  requestGroupCancel(id: string) { this.groups.drop(id); this.p('UPDATE groups SET cancel_requested = 1 WHERE id = ?').run(id); }
  activeGroups() { return this.p(`SELECT * FROM groups WHERE status IN ('running', 'paused') ORDER BY seq`).all() as GroupRow[]; }
  earliestBackoff(nowMs: number) {
    return (this.p(`SELECT min(backoff_until) AS t FROM jobs WHERE status = 'queued' AND backoff_until > ?`).get(nowMs) as { t: number | null }).t;
  }
  setJobFields(id: string, attempt: number, patch: { handle?: string | null; stop_reason?: string | null }) {
    if ('handle' in patch) this.p('UPDATE jobs SET handle = ? WHERE id = ? AND attempt = ?').run(patch.handle ?? null, id, attempt);
    if ('stop_reason' in patch) this.p('UPDATE jobs SET stop_reason = ? WHERE id = ? AND attempt = ?').run(patch.stop_reason ?? null, id, attempt);
  }
  setJobStats(id: string, attempt: number, stats: string) { this.p('UPDATE jobs SET stats = ? WHERE id = ? AND attempt = ?').run(stats, id, attempt); }
  runningJobsOf(executor: string) { return this.p(`SELECT * FROM jobs WHERE status = 'running' AND executor = ? ORDER BY seq`).all(executor) as JobRow[]; }
  setStageOutputs(id: string, outputs: string) { this.stages.drop(id); this.stageLists.clear(); this.p('UPDATE stages SET outputs = ? WHERE id = ?').run(outputs, id); }

  // attempts and commands
  finishAttempt(a: AttemptRow) {
    this.p('INSERT OR REPLACE INTO attempts (job_id, attempt, status, reason, message, exit_code, started_at, ended_at) VALUES ($job_id, $attempt, $status, $reason, $message, $exit_code, $started_at, $ended_at)').run(a as never);
  }
  attemptsOf(jobId: string) { return this.p('SELECT * FROM attempts WHERE job_id = ? ORDER BY attempt').all(jobId) as AttemptRow[]; }
  insertCommand(c: CommandRow) {
    this.p('INSERT OR REPLACE INTO commands (job_id, attempt, idx, exit_code, started_at, ended_at, log_size) VALUES ($job_id, $attempt, $idx, $exit_code, $started_at, $ended_at, $log_size)').run(c as never);
  }
  commandsOf(jobId: string, attempt: number) {
    return this.p('SELECT * FROM commands WHERE job_id = ? AND attempt = ? ORDER BY idx').all(jobId, attempt) as CommandRow[];
  }
  commandsOfRun(runId: string) {
    return this.p('SELECT c.* FROM jobs j JOIN commands c ON c.job_id = j.id AND c.attempt = j.attempt WHERE j.run_id = ? ORDER BY c.job_id, c.idx').all(runId) as CommandRow[];
  }
  jobTimings(jobIds: readonly string[]) {
    return this.p(`SELECT j.id, j.executor, j.run_id, j.queued_at, j.started_at, j.ended_at,
        (SELECT coalesce(sum(c.log_size), 0) FROM commands c WHERE c.job_id = j.id AND c.attempt = j.attempt) AS log_bytes
      FROM jobs j WHERE j.id IN (SELECT value FROM json_each(?))`).all(JSON.stringify(jobIds)) as JobTiming[];
  }
  recordHandle(id: string, attempt: number, handle: string) {
    return this.p('UPDATE jobs SET handle = ? WHERE id = ? AND attempt = ? RETURNING status, stop_reason').get(handle, id, attempt) as { status: string; stop_reason: string | null } | null;
  }

  // status events and blocker history
  eventsSince(seq: number, limit: number) {
    return (this.p('SELECT seq, kind, entity_id AS id, run_id, status, at FROM status_events WHERE seq > ? ORDER BY seq LIMIT ?').all(seq, limit) as StatusEvent[]);
  }
  takeCommittedEvents() {
    const evs = this.events.take();
    if (!this.events.overflowed) return evs;
    this.events.overflowed = false;
    return null;
  }
  lastEventSeq() { return (this.p('SELECT max(seq) AS s FROM status_events').get() as { s: number | null }).s ?? 0; }
  addBlockers(jobId: string, at: string, reasons: string) {
    this.p('INSERT INTO job_blockers (job_id, at, reasons) VALUES (?, ?, ?)').run(jobId, at, reasons);
  }
  addBlockersForGroupQueued(groupId: string, at: string, reasons: string) {
    this.p(`INSERT INTO job_blockers (job_id, at, reasons) SELECT id, ?, ? FROM jobs WHERE group_id = ? AND status IN ('queued', 'pending')`).run(at, reasons, groupId);
  }
  blockersOf(jobId: string) { return this.p('SELECT at, reasons FROM job_blockers WHERE job_id = ? ORDER BY id').all(jobId) as { at: string; reasons: string }[]; }

  // tokens
  insertToken(t: TokenRow) {
    this.p('INSERT INTO tokens (id, name, role, hash, created_at) VALUES ($id, $name, $role, $hash, $created_at)').run({ id: t.id, name: t.name, role: t.role, hash: t.hash, created_at: t.created_at });
  }
  tokenByHash(hash: string) { return this.p('SELECT * FROM tokens WHERE hash = ?').get(hash) as TokenRow | null; }
  listTokens() { return this.p('SELECT id, name, role, created_at, last_used_at FROM tokens ORDER BY created_at').all() as Omit<TokenRow, 'hash'>[]; }
  deleteToken(id: string) { return this.p('DELETE FROM tokens WHERE id = ?').run(id).changes === 1; }
  countTokens() { return (this.p('SELECT count(*) AS n FROM tokens').get() as { n: number }).n; }

  // idempotency keys
  idemGet(key: string) { return this.p('SELECT * FROM idempotency WHERE key = ?').get(key) as { key: string; body_hash: string; response: string; created_at: number } | null; }
  idemPut(key: string, bodyHash: string, response: string, nowMs: number) {
    this.p('INSERT INTO idempotency (key, body_hash, response, created_at) VALUES (?, ?, ?, ?)').run(key, bodyHash, response, nowMs);
  }
  idemPurge(beforeMs: number) { this.p('DELETE FROM idempotency WHERE created_at < ?').run(beforeMs); }

  // daemon heartbeat
  daemonGet() { return this.p('SELECT * FROM daemon WHERE id = 1').get() as DaemonRow | null; }
  daemonClaim(d: Omit<DaemonRow, 'id'>) {
    this.p('INSERT OR REPLACE INTO daemon (id, pid, host, started_at, heartbeat_at, version) VALUES (1, $pid, $host, $started_at, $heartbeat_at, $version)').run(d as never);
  }
  daemonBeat(pid: number, at: string) { return this.p('UPDATE daemon SET heartbeat_at = ? WHERE id = 1 AND pid = ?').run(at, pid).changes === 1; }
  /** A clean stop gives the data dir back: the next serve starts without "taking over from a dead server". */
  daemonRelease(pid: number) { return this.p('DELETE FROM daemon WHERE id = 1 AND pid = ?').run(pid).changes === 1; }
}

