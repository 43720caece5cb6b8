// `drover serve`: parse flags, then hand over to bootstrap.ts.
import { homedir } from 'node:os';
import { resolve, join } from 'node:path';
import { CliError, parseArgs, flagHelp } from './args.ts';
import { DroverError } from '../core/errors.ts';
import { PluginError } from '../plugins/registry.ts';
import { parseDuration, parseSize } from '../core/spec/index.ts';

const FLAGS = {
  host: { type: 'string', value: 'HOST', help: 'address to listen on (default 127.0.0.1)' },
  port: { type: 'string', value: 'PORT', help: 'port (default 7070; 0 picks a free one, written to <data-dir>/server.json)' },
  'data-dir': { type: 'string', value: 'DIR', help: 'state: database, logs, token (default $DROVER_DATA_DIR or ~/.drover)' },
  'workspace-root': { type: 'string', value: 'DIR', help: 'every workspace must stay under this (default: the current directory)' },
  'max-parallel': { type: 'string', value: 'N', help: 'jobs running at once (default: number of CPUs)' },
  'gpu-slots': { type: 'string', value: 'N', help: 'GPUs to use (GPU executor)' },
  plugins: { type: 'string', value: 'DIR', help: 'load every *.ts / *.js executor plugin in DIR (default <data-dir>/plugins; see docs/PLUGINS.md)' },
  plugin: { type: 'list', value: 'FILE', help: 'also load this plugin file (after those of --plugins)' },
  'plugin-opt': { type: 'list', value: 'NAME.KEY=VALUE', help: "an executor's setting, checked by its schema (VALUE: JSON, else a string)" },
  'plugin-timeout': { type: 'string', value: 'DUR', help: 'the longest one executor call (start, poll, cancel, adopt, detect) may take before its job fails executor_error (default 30s)' },
  'max-body': { type: 'string', value: 'SIZE', help: 'largest request body (default 1M)' },
  'max-sweep': { type: 'string', value: 'N', help: 'most runs one submit may make (default 10000)' },
  'kill-grace': { type: 'string', value: 'DUR', help: 'time between TERM and KILL on cancel/timeout (default 10s)' },
  'lease-ttl': { type: 'string', value: 'DUR', help: 'how long an agent holds a job without a heartbeat (default 30s)' },
  backstop: { type: 'string', value: 'DUR', help: 'the reaper fails a job still running after this long when it sets no timeout (default 30d)' },
  'finalize-grace': { type: 'string', value: 'DUR', help: 'how long a finished job may wait for its finalization (log drain) before the reaper checks its finalizer (default 30s)' },
  'rate-limit': { type: 'string', value: 'N', help: 'requests per second per token, bursts of 4x; 0 = off (default 500; heartbeats, logs and completions are never limited)' },
  'allow-network-fs': { type: 'boolean', help: 'accept a data dir on NFS/Lustre/GPFS (SQLite WAL is unsafe there)' },
  'max-log-size': { type: 'string', value: 'SIZE', help: 'stored log per job; the rest is dropped with one marker line (default 1G; 0 = no cap)' },
  'shutdown-grace': { type: 'string', value: 'DUR', help: 'on SIGTERM/SIGINT: stop taking work, finish requests, flush, exit within this (default 10s; a second signal exits at once; running jobs keep running)' },
  'metrics-pipeline-labels': { type: 'boolean', help: 'add a pipeline label to the per-job metrics on /metrics (one series per pipeline name: mind the cardinality)' },
  'retention-max-age': { type: 'string', value: 'DUR', help: 'retention GC removes terminal runs older than this when their pipeline sets no max_age (default: none)' },
  'advertise-url': { type: 'string', value: 'URL', help: 'the URL agents in allocation queues reach this server at (default: the URL it listens on)' },
  help: { type: 'boolean', short: 'h', help: 'show this help' },
} as const;

function int(v: string | undefined, name: string, dflt?: number): number | undefined {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new CliError(`drover serve: --${name} must be a non-negative integer (got '${v}')`);
  return n;
}

export async function serveCommand(argv: string[]): Promise<number> {
  try {
    const { flags: f } = parseArgs(argv, FLAGS, 'drover serve');
    if (f.help) { process.stdout.write(`usage: drover serve [flags]\n\nflags:\n${flagHelp(FLAGS)}\n`); return 0; }
    const dataDir = resolve(f['data-dir'] ?? process.env.DROVER_DATA_DIR ?? join(homedir(), '.drover'));
    const maxParallel = int(f['max-parallel'], 'max-parallel');
    if (maxParallel === 0) throw new CliError('drover serve: --max-parallel must be at least 1');
    let pluginTimeoutMs: number | undefined;
    let maxBody = 1024 * 1024, killGraceMs = 10_000, leaseTtlMs: number | undefined, maxLogSize: number | null | undefined, retentionMaxAgeMs: number | undefined, backstopMs: number | undefined, finalizeGraceMs: number | undefined, shutdownGraceMs: number | undefined;
    try {
      if (f['max-body']) maxBody = /^\d+$/.test(f['max-body']) ? Number(f['max-body']) : parseSize(f['max-body']) * 1024 * 1024;
      if (f['kill-grace']) killGraceMs = parseDuration(f['kill-grace']);
      if (f['lease-ttl']) leaseTtlMs = parseDuration(f['lease-ttl']);
      if (f['max-log-size']) maxLogSize = /^\d+$/.test(f['max-log-size']) ? Number(f['max-log-size']) || null : parseSize(f['max-log-size']) * 1024 * 1024;
      if (f['retention-max-age']) retentionMaxAgeMs = parseDuration(f['retention-max-age']);
      if (f.backstop) backstopMs = parseDuration(f.backstop);
      if (f['finalize-grace']) finalizeGraceMs = parseDuration(f['finalize-grace']);
      if (f['shutdown-grace']) shutdownGraceMs = parseDuration(f['shutdown-grace']);
      if (f['plugin-timeout']) pluginTimeoutMs = parseDuration(f['plugin-timeout']);
    } catch (e) { throw new CliError(`drover serve: ${(e as Error).message}`); }
    const advertiseUrl = f['advertise-url'];
    if (advertiseUrl !== undefined && !/^https?:\/\/[^/\s]+\/?$/.test(advertiseUrl)) throw new CliError(`drover serve: --advertise-url '${advertiseUrl}': expected http(s)://host:port`);
    const { serve } = await import('../bootstrap.ts');
    await serve({
      host: f.host ?? '127.0.0.1', port: int(f.port, 'port', 7070)!, dataDir,
      workspaceRoot: resolve(f['workspace-root'] ?? process.cwd()), maxParallel, gpuSlots: int(f['gpu-slots'], 'gpu-slots'), maxBody,
      maxSweep: int(f['max-sweep'], 'max-sweep', 10_000)!, killGraceMs, leaseTtlMs, rateLimit: int(f['rate-limit'], 'rate-limit'), allowNetworkFs: f['allow-network-fs'],
      maxLogSize, retentionMaxAgeMs, backstopMs, finalizeGraceMs, shutdownGraceMs, metricsPipelineLabels: f['metrics-pipeline-labels'],
      pluginsDir: f.plugins ? resolve(f.plugins) : undefined, pluginFiles: f.plugin.map((p) => resolve(p)), pluginOpts: f['plugin-opt'], pluginTimeoutMs,
      advertiseUrl: advertiseUrl?.replace(/\/$/, ''),
    });
    return await new Promise<number>(() => {}); // runs until a signal
  } catch (e) {
    if (e instanceof CliError) { process.stderr.write(e.message + '\n'); return e.exitCode; }
    if (e instanceof DroverError) { process.stderr.write(`drover serve: ${e.message}\n`); return 2; }
    if (e instanceof PluginError) { process.stderr.write(`drover serve: ${e.message}\n`); return 2; }
    if ((e as { code?: string }).code === 'EADDRINUSE') {
      process.stderr.write(`drover serve: the port is already in use (${(e as Error).message}); pick another with --port\n`);
      process.exit(2); // (taken between the check and the bind: what had started must not keep the process alive)
    }
    throw e;
  }
}
