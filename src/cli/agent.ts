// `drover agent --server URL [--token-file F] [--executors agent] [--pool P] [--slots N] [--until T]
// [--idle-exit D]`: pulls jobs from a drover server and runs them here, several per claim (`max`). It
// reconnects with backoff and jitter while the server is away and keeps running its jobs meanwhile;
// SIGTERM stops claiming and lets running jobs finish. Jobs an earlier agent left in the same
// --work-dir (its spool) are resumed first (agent/runner.ts). Inside an allocation (alloc queues,
// core/alloc/) `--until` is the walltime end: the server hands out only jobs that fit before it, the
// agent stops claiming a margin before it, and `--idle-exit` ends the agent (and so the allocation)
// once it has had nothing to do for that long.
import { readFileSync, mkdtempSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { CliError, parseArgs, flagHelp } from './args.ts';
import { agentApi } from '../agent/api.ts';
import { runClaim, resumeSpool, backoff, agentStatus, type Claim } from '../agent/runner.ts';
import { parseDuration } from '../core/spec/units.ts';

const FLAGS = {
  server: { type: 'string', value: 'URL', help: 'the drover server (else DROVER_URL)' },
  'token-file': { type: 'string', value: 'F', help: 'file holding an agent token (else DROVER_TOKEN)' },
  executors: { type: 'string', value: 'LIST', help: 'executors whose jobs to take (default: agent)' },
  pool: { type: 'string', value: 'NAME', help: 'take only jobs of this pool (and jobs with no pool)' },
  slots: { type: 'string', value: 'N', help: 'CPUs to fill with jobs (a job takes its resources.cpus, default 1; default 1)' },
  cpus: { type: 'string', value: 'N', help: 'the same as --slots (older name)' },
  gpus: { type: 'string', value: 'N', help: 'GPUs to fill with jobs (a job takes its resources.gpus, default 0; default: not counted)' },
  until: { type: 'string', value: 'T', help: 'when this agent must be done (epoch ms or ISO 8601): only jobs whose time fits are taken' },
  'idle-exit': { type: 'string', value: 'D', help: 'exit after this long with nothing to do (e.g. 5m)' },
  'work-dir': { type: 'string', value: 'DIR', help: 'where job folders go (default: a new temp dir)' },
  name: { type: 'string', value: 'NAME', help: 'this agent\'s name (default host-pid)' },
  help: { type: 'boolean', short: 'h', help: 'show this help' },
} as const;

/** Claiming stops this long before --until: a claim answered just before the end would not get to run. */
const STOP_MARGIN_MS = 5_000;
/** The most jobs one claim asks for (the server's limit). */
const MAX_CLAIM = 256;

function usage(message: string): never { throw new CliError(`drover agent: ${message}`, 2); }

function parseUntil(s: string): number {
  const t = /^\d+$/.test(s.trim()) ? Number(s) : Date.parse(s);
  if (!Number.isFinite(t) || t <= 0) usage(`--until '${s}': expected epoch milliseconds or an ISO 8601 time`);
  return t;
}

function parseCount(s: string, flag: string, min = 1): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < min) usage(`--${flag} '${s}': expected a whole number of at least ${min}`);
  return n;
}

export async function agentCommand(argv: string[]): Promise<number> {
  let f, until: number | undefined, idleMs: number | null, slots: number, gpus: number | null;
  try {
    f = parseArgs(argv, FLAGS, 'drover agent').flags;
    until = f.until !== undefined ? parseUntil(f.until) : undefined;
    try { idleMs = f['idle-exit'] !== undefined ? parseDuration(f['idle-exit']) : null; } catch (e) { usage(`--idle-exit: ${(e as Error).message}`); }
    slots = f.slots !== undefined ? parseCount(f.slots, 'slots') : f.cpus !== undefined ? parseCount(f.cpus, 'cpus') : 1;
    gpus = f.gpus !== undefined ? parseCount(f.gpus, 'gpus', 0) : null;
  } catch (e) {
    if (e instanceof CliError) { process.stderr.write(e.message + '\n'); return e.exitCode; }
    throw e;
  }
  if (f.help) { process.stdout.write(`usage: drover agent --server URL [flags]\n\nflags:\n${flagHelp(FLAGS)}\n`); return 0; }
  const server = f.server ?? process.env.DROVER_URL;
  const token = f['token-file'] ? readFileSync(f['token-file'], 'utf8').trim() : process.env.DROVER_TOKEN;
  if (!server || !token) { process.stderr.write('drover agent: needs --server URL (or DROVER_URL) and a token (--token-file F or DROVER_TOKEN)\n'); return 2; }
  const name = f.name ?? `${hostname()}-${process.pid}`;
  const workDir = f['work-dir'] ?? mkdtempSync(join(tmpdir(), 'drover-agent-'));
  const executors = (f.executors ?? 'agent').split(',').map((x) => x.trim()).filter(Boolean);
  const api = agentApi(server, token);
  const log = (m: string) => process.stderr.write(`${new Date().toISOString()} agent ${name}: ${m}\n`);
  let stopping = false;
  /** each running job and the CPUs and GPUs it holds */
  const running = new Map<Promise<void>, { cpus: number; gpus: number }>();
  const used = (k: 'cpus' | 'gpus' = 'cpus') => { let n = 0; for (const c of running.values()) n += c[k]; return n; };
  let lastBusy = Date.now();
  const track = (p: Promise<void>, cpus: number, g = 0) => {
    const q: Promise<void> = p.finally(() => { running.delete(q); lastBusy = Date.now(); });
    running.set(q, { cpus, gpus: g });
  };
  process.on('SIGTERM', () => { stopping = true; agentStatus.terminating = true; log('SIGTERM: no new claims; finishing running jobs'); });
  process.on('SIGINT', () => { stopping = true; });
  log(`claiming ${executors.join(',')} jobs${f.pool ? ` of pool ${f.pool}` : ''} from ${server}, ${slots} slot(s)${gpus !== null ? `, ${gpus} GPU(s)` : ''}${until ? `, until ${new Date(until).toISOString()}` : ''}${idleMs !== null ? `, exiting after ${idleMs} ms idle` : ''}, in ${workDir}`);
  // jobs a previous agent on this --work-dir left running or unfinished: see them to their completion
  for (const p of resumeSpool(api, workDir, log)) track(p, 1);
  let failures = 0;
  while (!stopping) {
    const now = Date.now();
    if (until !== undefined && now >= until - STOP_MARGIN_MS) { log('the end of this agent\'s time is near: no new claims'); break; }
    const free = slots - used();
    if (free <= 0) { await Promise.race(running.keys()); continue; }
    if (idleMs !== null && running.size === 0 && now - lastBusy >= idleMs) { log(`nothing to do for ${Math.round((now - lastBusy) / 1000)} s: exiting`); break; }
    // a long poll that ends in time to notice the idle limit or the end of our time
    let waitS = 20;
    if (idleMs !== null) waitS = Math.min(waitS, running.size ? idleMs / 1000 : Math.max(0, (lastBusy + idleMs - now) / 1000));
    if (until !== undefined) waitS = Math.min(waitS, Math.max(0, (until - STOP_MARGIN_MS - now) / 1000));
    const body = { agent: name, pool: f.pool, executors, wait_s: Math.ceil(waitS), max: Math.min(free, MAX_CLAIM), resources: { cpus: free, ...(gpus !== null ? { gpus: Math.max(0, gpus - used('gpus')) } : {}) }, ...(until !== undefined ? { until } : {}) };
    const r = await api.post('/agents/claim', body).catch((e) => ({ status: 0, body: String(e) }));
    if (r.status === 200) {
      failures = 0;
      lastBusy = Date.now();
      for (const claim of (r.body as { items: Claim[] }).items) {
        track(runClaim(api, claim, workDir, log).catch((e) => { log(`job failed to run: ${e}`); }), Math.max(1, claim.job.cpus ?? 1), claim.job.gpus ?? 0);
      }
    } else if (r.status === 204) {
      failures = 0;
    } else if (r.status === 401 || r.status === 403) {
      log(`the server refused the token (${r.status}): ${JSON.stringify(r.body)}`);
      return 2;
    } else {
      // idle means "the server had nothing for us": time it was unreachable (restarting) does not count,
      // or every agent of an allocation would exit during a server restart (its walltime still bounds it)
      lastBusy = Date.now();
      const wait = backoff(failures++);
      log(`claim failed (${r.status || 'unreachable'}); retrying in ${Math.round(wait)} ms`);
      await Bun.sleep(wait);
    }
  }
  await Promise.all(running.keys());
  return 0;
}
