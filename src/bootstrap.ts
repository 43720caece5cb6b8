// The composition root for `serve`: config → data dir checks → db → daemon lock → executors →
// engine → HTTP server. The only file that knows every layer.
import { mkdirSync, writeFileSync, existsSync, rmSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { hostname, cpus } from 'node:os';
import { openDatabase, assertLocalFilesystem } from './db/open.ts';
import { countStatements } from './db/sql-counter.ts';
import { SqliteStore } from './db/store.ts';
import { Engine } from './core/scheduler/engine.ts';
import { coreFacade } from './core/facade.ts';
import { Bus } from './core/events.ts';
import { DroverError } from './core/errors.ts';
import { ENGINE_DEFAULTS, SECOND, type EngineConfig } from './core/config.ts';
import { newId, isoNow } from './core/ids.ts';
import { newToken, hashToken } from './core/tokens.ts';
import { Registry, BUILT_IN, parsePluginOpts } from './plugins/registry.ts';
import { builtinDefinitions } from './plugins/builtins.ts';
import { loadPluginDir, loadPluginFile } from './plugins/loader.ts';
import { createApp } from './server/app.ts';
import { TriggerService } from './core/triggers/index.ts';
import { SecretStore } from './core/secrets/store.ts';
import { CopierPool } from './core/redact/pool.ts';
import { GarbageCollector } from './core/gc/collector.ts';
import { scheduleGc } from './core/gc/schedule.ts';
import { Attestor } from './core/provenance/attest.ts';
import { secretsRepo } from './db/repos/secrets.ts';
import { auditRepo } from './db/repos/audit.ts';
import { gcRepo } from './db/repos/gc.ts';
import { AgentBroker } from './core/agents/broker.ts';
import { parseFailpoints } from './core/failpoints.ts';
import { createHub } from './ws/hub.ts';
import { createTickets } from './ws/tickets.ts';
import { createDroverMetrics } from './metrics/drover.ts';
import { redactionCount } from './core/redact/redactor.ts';
import { jsonLogger } from './log.ts';
import type { Executor, Logger } from './core/ports.ts';
import { AllocManager } from './core/alloc/manager.ts';
import { allocRepo } from './db/repos/alloc.ts';
import { createSlurmAllocBackend } from './plugins/slurm/alloc-backend.ts';
import { parseDuration } from './core/spec/units.ts';
import { tokenDeleted } from './ws/registry.ts';
import pkg from '../package.json';

export interface ServeOptions {
  host: string; port: number; dataDir: string; workspaceRoot: string;
  maxParallel?: number; gpuSlots?: number; leaseTtlMs?: number; rateLimit?: number; maxBody: number; maxSweep: number; killGraceMs: number; allowNetworkFs: boolean;
  log?: Logger;
  /** --max-log-size: bytes of stored log per job (null: no cap; default 1 GiB) */
  maxLogSize?: number | null;
  /** --retention-max-age: max_age of pipelines whose spec sets none (default: none) */
  retentionMaxAgeMs?: number | null;
  /** --backstop: the reaper fails a job running longer than this (when it has no timeout) */
  backstopMs?: number;
  /** --finalize-grace: how long an observed end may wait for its finalizer before the reaper looks */
  finalizeGraceMs?: number;
  /** --shutdown-grace: how long a clean stop (SIGTERM/SIGINT) may take before it exits anyway (default 10 s) */
  shutdownGraceMs?: number;
  /** --metrics-pipeline-labels: a `pipeline` label on the per-job metrics (one series per pipeline) */
  metricsPipelineLabels?: boolean;
  /** --plugins: executor plugin files (default <data-dir>/plugins) */
  pluginsDir?: string;
  /** --plugin FILE: single plugin files, loaded after the dir's */
  pluginFiles?: string[];
  /** --plugin-opt NAME.KEY=VALUE, as given */
  pluginOpts?: string[];
  /** --plugin-timeout: the limit of each async executor call */
  pluginTimeoutMs?: number;
  /** --advertise-url: the URL agents in allocations reach this server at (default: the URL it listens on) */
  advertiseUrl?: string;
}

/** argv that runs this drover again: the compiled binary itself, or bun with the entry script. */
function selfCommand(): string[] {
  return Bun.main.includes('$bunfs') ? [process.execPath] : [process.execPath, Bun.main];
}

/** DROVER_ALLOC_* settings of allocation queues (tests shorten them). */
function allocSettings(env = process.env) {
  const dur = (v: string | undefined) => (v === undefined || v.trim() === '' ? undefined : parseDuration(v));
  return {
    backoffMs: env.DROVER_ALLOC_BACKOFF ? env.DROVER_ALLOC_BACKOFF.split(',').map((x) => parseDuration(x.trim())) : undefined,
    connectTimeoutMs: dur(env.DROVER_ALLOC_CONNECT_TIMEOUT),
    passIntervalMs: dur(env.DROVER_ALLOC_PASS_INTERVAL),
  };
}

const DEFAULT_MAX_LOG_SIZE = 1024 ** 3;

const HEARTBEAT_MS = 5 * SECOND;
const STALE_MS = 3 * HEARTBEAT_MS;

function pidAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as { code?: string }).code === 'EPERM'; }
}

/** One server per data dir: refuse while another is alive and beating, take over when it is dead. */
function claimDaemon(store: SqliteStore, dataDir: string, log: Logger): string {
  const started_at = isoNow();
  store.tx(() => {
    const cur = store.daemonGet();
    if (cur && cur.pid !== process.pid) {
      const age = Date.now() - Date.parse(cur.heartbeat_at);
      const sameHost = cur.host === hostname();
      if ((sameHost ? pidAlive(cur.pid) : true) && age < STALE_MS) {
        throw new DroverError('conflict', `another drover serve (pid ${cur.pid} on ${cur.host}, heartbeat ${Math.round(age / 1000)}s ago) is using the data dir ${dataDir}; stop it first or use another --data-dir`, { pid: cur.pid });
      }
      log.warn('taking over the data dir from a dead server', { pid: cur.pid, heartbeat_at: cur.heartbeat_at });
    }
    store.daemonClaim({ pid: process.pid, host: hostname(), started_at, heartbeat_at: started_at, version: pkg.version });
  });
  return started_at;
}

function ensureAdminToken(store: SqliteStore, dataDir: string, log: Logger): void {
  const file = join(dataDir, 'admin.token');
  if (store.countTokens() > 0) return;
  const token = newToken();
  store.insertToken({ id: newId('t'), name: 'admin', role: 'admin', hash: hashToken(token), created_at: isoNow(), last_used_at: null });
  writeFileSync(file, token + '\n', { mode: 0o600 });
  log.info('wrote the admin token', { file });
}

/** A port already taken is said before anything is opened, written or started (no admin token, no
 *  claim on the data dir, no job started by a server that then cannot listen). EADDRINUSE if taken. */
function assertPortFree(host: string, port: number): void {
  if (!port) return;
  Bun.serve({ hostname: host, port, fetch: () => new Response(null, { status: 503 }) }).stop(true);
}

/** The built-ins, then every plugin file: a PluginError (exit 2) before anything is opened or listens. */
export async function loadExecutors(o: Pick<ServeOptions, 'dataDir' | 'maxParallel' | 'gpuSlots' | 'pluginsDir' | 'pluginFiles' | 'pluginOpts' | 'pluginTimeoutMs'>, log: Logger): Promise<Registry> {
  const registry = new Registry({ dataDir: o.dataDir, log, settings: parsePluginOpts(o.pluginOpts ?? []), timeoutMs: o.pluginTimeoutMs });
  for (const def of builtinDefinitions({ maxParallel: o.maxParallel, gpuSlots: o.gpuSlots })) await registry.add(def, BUILT_IN);
  const dir = o.pluginsDir ?? join(o.dataDir, 'plugins');
  const t0 = performance.now();
  const files = await loadPluginDir(registry, dir);
  for (const f of o.pluginFiles ?? []) { await loadPluginFile(registry, f); files.push(f); }
  registry.checkUnusedSettings();
  if (files.length) log.info('loaded executor plugins', { dir, files: files.length, ms: Math.round(performance.now() - t0), names: [...registry.entries.values()].filter((e) => e.executor.source !== BUILT_IN).map((e) => e.executor.name) });
  return registry;
}

export async function serve(o: ServeOptions) {
  const log = o.log ?? jsonLogger();
  const maxParallel = o.maxParallel ?? cpus().length;
  const registry = await loadExecutors({ ...o, maxParallel }, log.scope({ part: 'executors' }));
  assertPortFree(o.host, o.port);
  assertLocalFilesystem(o.dataDir, o.allowNetworkFs);
  mkdirSync(o.dataDir, { recursive: true, mode: 0o700 });
  const { sqlite } = openDatabase(join(o.dataDir, 'drover.db'));
  const sqlStats = process.env.DROVER_SQL_STATS === '1' ? countStatements(sqlite) : null; // (benchmarks: statements per job)
  const store = new SqliteStore(sqlite, (e) => log.warn('refused an illegal transition', { entity: e.entity, id: e.id, from: e.from, to: e.to }));
  const startedAt = claimDaemon(store, o.dataDir, log);
  ensureAdminToken(store, o.dataDir, log);
  process.env.DROVER_VERSION = pkg.version;

  const executors: Map<string, Executor> = registry.executors();
  const config: EngineConfig = {
    ...ENGINE_DEFAULTS, dataDir: o.dataDir, runsDir: join(o.dataDir, 'runs'), workspaceRoot: o.workspaceRoot,
    maxParallel, killGraceMs: o.killGraceMs, maxSweep: o.maxSweep,
    leaseTtlMs: o.leaseTtlMs ?? ENGINE_DEFAULTS.leaseTtlMs, leaseGraceMs: 2 * (o.leaseTtlMs ?? ENGINE_DEFAULTS.leaseTtlMs),
    batchWindowMs: Number(process.env.DROVER_BATCH_WINDOW_MS ?? ENGINE_DEFAULTS.batchWindowMs),
    backstopMs: o.backstopMs ?? ENGINE_DEFAULTS.backstopMs, finalizeGraceMs: o.finalizeGraceMs ?? ENGINE_DEFAULTS.finalizeGraceMs,
  };
  let failpoints;
  try { failpoints = parseFailpoints(process.env.DROVER_FAILPOINTS); } catch (e) { throw new DroverError('invalid_request', (e as Error).message); }
  if (failpoints) log.warn('failpoints are set (testing only)', { DROVER_FAILPOINTS: process.env.DROVER_FAILPOINTS });
  mkdirSync(config.runsDir, { recursive: true, mode: 0o700 });
  const bus = new Bus(log);
  // secrets (encrypted at rest), the redacting log copiers of jobs with secrets, signed results, audit
  const tx = <T>(fn: () => T): T => store.tx(fn);
  const secrets = await SecretStore.open(join(o.dataDir, 'secrets.key'), secretsRepo(sqlite, tx), log.scope({ part: 'secrets' }));
  const attestor = await Attestor.open(o.dataDir, log.scope({ part: 'provenance' }));
  const audit = auditRepo(sqlite, tx);
  const maxLogSize = o.maxLogSize === undefined ? DEFAULT_MAX_LOG_SIZE : o.maxLogSize;
  const logGate = new CopierPool({
    secrets, maxLogSize, log: log.scope({ part: 'logs' }),
    dirOf: (id) => { const j = store.getJob(id); return j ? engine.jobDir(j) : null; },
  });
  // Prometheus (/metrics); its scrape-time sources are read only once the server listens
  const metrics = createDroverMetrics({
    bus, store, executors: [...new Set([...executors.keys(), 'agent'])], dbFile: join(o.dataDir, 'drover.db'), version: pkg.version,
    pipelineLabels: o.metricsPipelineLabels ?? false,
    sources: {
      wsClients: () => hub.stats().clients, wsDropped: () => hub.stats().dropped,
      leasesHeld: () => store.jobsWithStatus('running').filter((j) => j.lease_token).length,
      leasesExpired: () => engine.reaper.reaped, redactions: () => redactionCount.matches,
      sqlStatements: sqlStats ? () => ({ total: sqlStats.statements, bySql: sqlStats.bySql }) : undefined,
    },
  });
  store.commits.onSync = (sec) => metrics.observeFsync(sec);
  const engine = new Engine({
    store, executors, clock: { now: () => Date.now() }, log: log.scope({ part: 'scheduler' }), bus, config,
    secrets, logGate, onResult: (run, sha256) => void attestor.sign(run.id, run.dir, sha256), failpoints, telemetry: metrics.telemetry,
  });
  logGate.resumeRunning(engine);
  await engine.start();
  const gc = new GarbageCollector({
    repo: gcRepo(sqlite, (group, status) => store.runDeleted(group, status)), runsDir: config.runsDir, allocDir: join(o.dataDir, 'alloc'), defaultMaxAgeMs: o.retentionMaxAgeMs ?? null, tx, log: log.scope({ part: 'gc' }),
    eventTtlMs: config.idempotencyTtlMs, onPass: (report) => metrics.observeGc(report),
    retentionOf: (p) => { const row = store.pipelineLatest(p); try { return row ? engine.catalog.spec(row.name, row.version).retention : undefined; } catch { return undefined; } },
  });
  const gcTimer = scheduleGc(gc, log.scope({ part: 'gc' }));
  // schedules, topic events, webhooks (their secrets from the store), cost; subscribes to the bus before the engine's first tick
  const triggers = new TriggerService({ engine, bus, log: log.scope({ part: 'triggers' }), secrets });
  triggers.start();

  let heartbeatAt = startedAt;
  const beat = setInterval(() => {
    heartbeatAt = isoNow();
    try {
      if (!store.daemonBeat(process.pid, heartbeatAt)) {
        log.error('another server took over this data dir; stopping');
        void shutdown(3);
      }
    } catch (err) { log.warn('heartbeat write failed', { err: String(err) }); }
  }, HEARTBEAT_MS);

  const broker = new AgentBroker(engine, { leaseTtlMs: config.leaseTtlMs, maxLogSize });
  engine.queuedListeners.push(() => broker.notify());
  // allocation queues: Slurm allocations whose agents claim their pool's jobs (core/alloc)
  let advertised = o.advertiseUrl ?? '';
  let alloc: AllocManager;
  try {
    alloc = new AllocManager({
      engine, store: allocRepo(sqlite, (e) => log.warn('refused an illegal transition', { entity: e.entity, id: e.id, from: e.from, to: e.to })),
      backend: createSlurmAllocBackend(), log: log.scope({ part: 'alloc' }), dir: join(o.dataDir, 'alloc'), serverUrl: () => advertised, self: selfCommand(),
      tokens: {
        create: (name) => { const token = newToken(); const id = newId('t'); store.insertToken({ id, name, role: 'agent', hash: hashToken(token), created_at: isoNow(), last_used_at: null }); return { id, token }; },
        revoke: (id) => { store.deleteToken(id); tokenDeleted(id); },
      },
      ...Object.fromEntries(Object.entries(allocSettings()).filter(([, v]) => v !== undefined)),
    });
  } catch (e) { throw new DroverError('invalid_request', `DROVER_ALLOC_*: ${(e as Error).message}`); }
  broker.claimListeners.push((agent, n) => alloc.claimed(agent, n));
  let stopping = false;
  const core = coreFacade(engine);
  const tickets = createTickets();
  const app = createApp({
    core, log, version: pkg.version, daemon: { pid: process.pid, started_at: startedAt, heartbeatAt: () => heartbeatAt }, maxBody: o.maxBody,
    broker, rateLimit: o.rateLimit, shuttingDown: () => stopping, triggers, secrets, audit, gc, attestor, metrics, tickets, alloc,
  });
  const hub = createHub({ core, bus, log: log.scope({ part: 'ws' }), tickets });
  const server = Bun.serve({ hostname: o.host, port: o.port, fetch: hub.fetch(app.fetch), websocket: hub.websocket, idleTimeout: 120 });
  hub.start();
  const url = `http://${o.host.includes(':') ? `[${o.host}]` : o.host}:${server.port}`;
  advertised ||= url;
  alloc.start(); // allocations alive before a restart are re-adopted by their Slurm ids on its first pass
  const serverFile = join(o.dataDir, 'server.json');
  writeFileSync(serverFile, JSON.stringify({ url, pid: process.pid, version: pkg.version, started_at: startedAt }) + '\n', { mode: 0o600 });
  process.stderr.write(`drover ${pkg.version} listening on ${url} (data dir ${o.dataDir}; admin token in ${join(o.dataDir, 'admin.token')})\n`);

  const graceMs = o.shutdownGraceMs ?? 10 * SECOND;
  /**
   * A clean stop: no new work (submits and claims get 503, triggers and GC stop), WebSockets closed with
   * 1001 (going away), in-flight requests finished (their writes are durable before they answer), the
   * scheduler stopped, group commit flushed, the data dir released, one log line, exit. Detached jobs
   * keep running; the next serve re-adopts them. Past the grace, or on a second signal, it exits at once.
   */
  async function shutdown(code = 0, signal?: string) {
    if (stopping) {
      if (signal) { log.warn('second signal: exiting now', { signal }); process.exit(1); }
      return;
    }
    stopping = true;
    const t0 = Date.now();
    const overdue = setTimeout(() => { log.error('shutdown took longer than --shutdown-grace; exiting now', { grace_ms: graceMs }); process.exit(1); }, graceMs);
    broker.close();
    alloc.stop();
    triggers.stop();
    gcTimer.stop();
    hub.stop();
    // stop listening; requests in flight finish (a write answers only once durable)
    await Promise.race([server.stop(false), Bun.sleep(Math.max(0, graceMs - 1000))]);
    engine.stop();
    logGate.stop();
    clearInterval(beat);
    const running = engine.ledger.total;
    let released = false;
    if (code === 0) { try { released = store.tx(() => store.daemonRelease(process.pid)); } catch (err) { log.error('could not release the data dir', { err: String(err) }); } }
    try { store.commits.flush(); } catch (err) { log.error('final fsync failed', { err: String(err) }); }
    server.stop(true);
    metrics.stop();
    try {
      const cur = JSON.parse(readFileSync(serverFile, 'utf8'));
      if (cur.pid === process.pid && existsSync(serverFile)) rmSync(serverFile);
    } catch { /* gone already */ }
    sqlite.close();
    clearTimeout(overdue);
    if (code === 0) log.info('stopped cleanly', { signal, ms: Date.now() - t0, jobs_left_running: running, data_dir_released: released });
    process.exit(code);
  }
  process.on('SIGINT', () => void shutdown(0, 'SIGINT'));
  process.on('SIGTERM', () => void shutdown(0, 'SIGTERM'));
  return { url, engine, server, shutdown };
}
