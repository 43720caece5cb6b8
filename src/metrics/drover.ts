// drover's Prometheus metrics: what each one means, and where its numbers come from.
//   job outcomes, queue wait, run time, log bytes   the bus's job status events (+ the job's row)
//   scheduler tick duration                         the engine's onTick hook (core/telemetry.ts)
//   HTTP request duration                           observeHttp(), from the server's middleware
//   group-commit fsync latency                      observeFsync(), from db/durability.ts
//   GC removals                                     observeGc(), from the collector's report
//   WebSocket clients/drops, leases, SQLite sizes, redactions   read at scrape time (`sources`)
// Labels stay bounded: executor, status, method, route pattern, status class, reason; `pipeline` only
// with --metrics-pipeline-labels (one series per pipeline name). Not here: the registry (registry.ts).
import { statSync } from 'node:fs';
import type { Bus } from '../core/events.ts';
import type { Store, Logger } from '../core/ports.ts';
import type { StatusEvent } from '../core/types.ts';
import type { EngineTelemetry } from '../core/telemetry.ts';
import { Registry, FAST_BUCKETS, JOB_BUCKETS, type Labels } from './registry.ts';

export const JOB_OUTCOMES = ['succeeded', 'failed', 'canceled', 'skipped'] as const;

export interface MetricSources {
  wsClients(): number;
  /** WebSocket clients closed by the server, by reason (slow_client, unauthorized) */
  wsDropped(): Record<string, number>;
  leasesHeld(): number;
  leasesExpired(): number;
  redactions(): number;
  /** SQL statements executed, in all and by statement text (only with DROVER_SQL_STATS=1) */
  sqlStatements?: () => { total: number; bySql: ReadonlyMap<string, number> };
}

export interface DroverMetricsOptions {
  bus: Bus; store: Pick<Store, 'getRun' | 'jobTimings'>; log?: Logger;
  executors: string[]; dbFile: string; version: string; pipelineLabels: boolean; sources: MetricSources;
}

/** how long job status events are gathered before their one read (a scrape reads them at once) */
const GATHER_MS = 200;
const seconds = (from: string | null, to: string | null) => (from && to ? Math.max(0, (Date.parse(to) - Date.parse(from)) / 1000) : null);
const fileSize = (f: string) => { try { return statSync(f).size; } catch { return 0; } };

export function createDroverMetrics(o: DroverMetricsOptions) {
  const r = new Registry();
  const jobLabels = o.pipelineLabels ? ['executor', 'status', 'pipeline'] : ['executor', 'status'];
  const execLabels = o.pipelineLabels ? ['executor', 'pipeline'] : ['executor'];
  r.gauge('drover_build_info', 'drover build: version and Bun runtime (always 1)', ['version', 'bun']).set({ version: o.version, bun: Bun.version }, 1);
  const jobs = r.counter('drover_jobs_total', 'jobs that ended, by executor and final status', jobLabels);
  const wait = r.histogram('drover_job_queue_wait_seconds', 'time from queued to running, per started attempt', execLabels, JOB_BUCKETS);
  const run = r.histogram('drover_job_run_seconds', 'time from running to the end, per finished job', execLabels, JOB_BUCKETS);
  const logBytes = r.counter('drover_log_bytes_stored_total', 'bytes of (redacted) job log stored, counted when a job ends', execLabels);
  const tick = r.histogram('drover_scheduler_tick_duration_seconds', 'duration of one scheduler tick (one transaction)', [], FAST_BUCKETS);
  const http = r.histogram('drover_http_request_duration_seconds', 'HTTP requests by method, route pattern and status class', ['method', 'route', 'status'], FAST_BUCKETS);
  const fsync = r.histogram('drover_sqlite_fsync_duration_seconds', 'group commit: duration of one fsync of the WAL and database', [], FAST_BUCKETS);
  const gcRuns = r.counter('drover_gc_runs_removed_total', 'runs (folders and rows) removed by retention GC');
  const gcBytes = r.counter('drover_gc_bytes_freed_total', 'bytes freed by retention GC (runs and orphan folders)');
  r.gauge('drover_sqlite_database_bytes', 'size of drover.db', [], () => [[{}, fileSize(o.dbFile)]]);
  r.gauge('drover_sqlite_wal_bytes', 'size of the write-ahead log drover.db-wal', [], () => [[{}, fileSize(o.dbFile + '-wal')]]);
  r.gauge('drover_ws_clients', 'WebSocket clients connected now', [], () => [[{}, o.sources.wsClients()]]);
  r.counterFrom('drover_ws_clients_dropped_total', 'WebSocket clients the server closed, by reason (slow_client: it did not read)', ['reason'],
    () => Object.entries({ slow_client: 0, ...o.sources.wsDropped() }).map(([reason, n]) => [{ reason }, n]));
  r.gauge('drover_agent_leases_held', 'running jobs held by an agent lease now', [], () => [[{}, o.sources.leasesHeld()]]);
  r.counterFrom('drover_agent_leases_expired_total', 'agent leases that expired (no heartbeat) and were reaped', [], () => [[{}, o.sources.leasesExpired()]]);
  const sqlStatements = o.sources.sqlStatements;
  if (sqlStatements) {
    r.counterFrom('drover_sqlite_statements_total', 'SQL statements executed (DROVER_SQL_STATS=1; BEGIN+COMMIT count as 2)', [], () => [[{}, sqlStatements().total]]);
    r.counterFrom('drover_sqlite_statement_calls_total', 'SQL statements executed, by statement text (DROVER_SQL_STATS=1)', ['sql'], () => [...sqlStatements().bySql].map(([sql, n]) => [{ sql }, n]));
  }
  r.counterFrom('drover_log_redactions_total', 'secret values replaced by [REDACTED:NAME] in stored logs and answers', [], () => [[{}, o.sources.redactions()]]);

  // series that exist from the first scrape, so rate() and histogram_quantile() see every increase
  if (!o.pipelineLabels) {
    for (const executor of o.executors) {
      for (const status of JOB_OUTCOMES) jobs.init({ executor, status });
      wait.init({ executor }); run.init({ executor }); logBytes.init({ executor });
    }
  }
  tick.init(); fsync.init(); gcRuns.init(); gcBytes.init();

  const pipelineOf = new Map<string, string>();
  function labelsFor(executor: string, runId: string): Labels {
    if (!o.pipelineLabels) return { executor };
    let p = pipelineOf.get(runId);
    if (p === undefined) {
      p = o.store.getRun(runId)?.pipeline ?? '';
      if (pipelineOf.size > 10_000) pipelineOf.clear();
      pipelineOf.set(runId, p);
    }
    return { executor, pipeline: p };
  }

  const counted = (e: StatusEvent) => e.kind === 'job' && (e.status === 'running' || (JOB_OUTCOMES as readonly string[]).includes(e.status));
  // gathered for a short while (and always before a scrape): one read for many ends, not one per commit
  let due: StatusEvent[] = [];
  let soon: ReturnType<typeof setTimeout> | null = null;
  function onStatuses(evs: readonly StatusEvent[]): void {
    for (const e of evs) if (counted(e)) due.push(e);
    if (due.length && !soon) { soon = setTimeout(flush, GATHER_MS); soon.unref?.(); }
  }
  function flush(): void {
    if (soon) { clearTimeout(soon); soon = null; }
    const mine = due;
    due = [];
    if (mine.length === 0) return;
    const jobsById = new Map(o.store.jobTimings([...new Set(mine.map((e) => e.id))]).map((j) => [j.id, j]));
    for (const e of mine) {
      const job = jobsById.get(e.id);
      if (!job) continue;
      const l = labelsFor(job.executor, job.run_id);
      if (e.status === 'running') {
        const s = seconds(job.queued_at, job.started_at);
        if (s !== null) wait.observe(l, s);
        continue;
      }
      jobs.inc({ ...l, status: e.status });
      const s = seconds(job.started_at, job.ended_at);
      if (s !== null) run.observe(l, s);
      logBytes.inc(l, job.log_bytes);
    }
  }
  const off = o.bus.on('status:batch', onStatuses);

  const telemetry: EngineTelemetry = { tick: (s) => tick.observe({}, s) };
  return {
    registry: r,
    telemetry,
    observeHttp(method: string, route: string, status: number, s: number) { http.observe({ method, route, status: `${Math.floor(status / 100)}xx` }, s); },
    observeFsync(s: number) { fsync.observe({}, s); },
    observeGc(report: { dry_run: boolean; runs_removed: number; bytes_freed: number }) {
      if (report.dry_run) return;
      gcRuns.inc({}, report.runs_removed); gcBytes.inc({}, report.bytes_freed);
    },
    render: () => { flush(); return r.render(); },
    stop: () => { off(); if (soon) clearTimeout(soon); },
  };
}

export type DroverMetrics = ReturnType<typeof createDroverMetrics>;

