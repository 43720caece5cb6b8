// `drover agent --server URL [--token-file F] [--executors agent] [--pool P] [--cpus N]`: pulls jobs
// from a drover server and runs them here. Reconnects with backoff and jitter while the server is
// away and keeps running its jobs meanwhile; SIGTERM stops claiming and lets running jobs finish. Jobs
// an earlier agent left in the same --work-dir (its spool) are resumed first (agent/runner.ts).
import { readFileSync, mkdtempSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { CliError, parseArgs, flagHelp } from './args.ts';
import { agentApi } from '../agent/api.ts';
import { runClaim, resumeSpool, backoff, type Claim } from '../agent/runner.ts';

const FLAGS = {
  server: { type: 'string', value: 'URL', help: 'the drover server (else DROVER_URL)' },
  'token-file': { type: 'string', value: 'F', help: 'file holding an agent token (else DROVER_TOKEN)' },
  executors: { type: 'string', value: 'LIST', help: 'executors whose jobs to take (default: agent)' },
  pool: { type: 'string', value: 'NAME', help: 'take only jobs of this pool (and jobs with no pool)' },
  cpus: { type: 'string', value: 'N', help: 'jobs at once (default 1)' },
  'work-dir': { type: 'string', value: 'DIR', help: 'where job folders go (default: a new temp dir)' },
  name: { type: 'string', value: 'NAME', help: 'this agent\'s name (default host-pid)' },
  help: { type: 'boolean', short: 'h', help: 'show this help' },
} as const;

export async function agentCommand(argv: string[]): Promise<number> {
  let f;
  try { f = parseArgs(argv, FLAGS, 'drover agent').flags; } catch (e) {
    if (e instanceof CliError) { process.stderr.write(e.message + '\n'); return e.exitCode; }
    throw e;
  }
  if (f.help) { process.stdout.write(`usage: drover agent --server URL [flags]\n\nflags:\n${flagHelp(FLAGS)}\n`); return 0; }
  const server = f.server ?? process.env.DROVER_URL;
  const token = f['token-file'] ? readFileSync(f['token-file'], 'utf8').trim() : process.env.DROVER_TOKEN;
  if (!server || !token) { process.stderr.write('drover agent: needs --server URL (or DROVER_URL) and a token (--token-file F or DROVER_TOKEN)\n'); return 2; }
  const slots = Math.max(1, Number(f.cpus ?? 1) || 1);
  const name = f.name ?? `${hostname()}-${process.pid}`;
  const workDir = f['work-dir'] ?? mkdtempSync(join(tmpdir(), 'drover-agent-'));
  const executors = (f.executors ?? 'agent').split(',').map((x) => x.trim()).filter(Boolean);
  const api = agentApi(server, token);
  const log = (m: string) => process.stderr.write(`${new Date().toISOString()} agent ${name}: ${m}\n`);
  let stopping = false;
  const running = new Set<Promise<void>>();
  process.on('SIGTERM', () => { stopping = true; log('SIGTERM: no new claims; finishing running jobs'); });
  process.on('SIGINT', () => { stopping = true; });
  log(`claiming ${executors.join(',')} jobs${f.pool ? ` of pool ${f.pool}` : ''} from ${server}, ${slots} at once, in ${workDir}`);
  // jobs a previous agent on this --work-dir left running or unfinished: see them to their completion
  for (const p of resumeSpool(api, workDir, log)) { const q: Promise<void> = p.finally(() => { running.delete(q); }); running.add(q); }
  let failures = 0;
  while (!stopping) {
    if (running.size >= slots) { await Promise.race(running); continue; }
    const r = await api.post('/agents/claim', { agent: name, pool: f.pool, executors, wait_s: 20 }).catch((e) => ({ status: 0, body: String(e) }));
    if (r.status === 200) {
      failures = 0;
      const p: Promise<void> = runClaim(api, r.body as Claim, workDir, log).catch((e) => { log(`job failed to run: ${e}`); }).finally(() => { running.delete(p); });
      running.add(p);
    } else if (r.status === 204) {
      failures = 0;
    } else if (r.status === 401 || r.status === 403) {
      log(`the server refused the token (${r.status}): ${JSON.stringify(r.body)}`);
      return 2;
    } else {
      const wait = backoff(failures++);
      log(`claim failed (${r.status || 'unreachable'}); retrying in ${Math.round(wait)} ms`);
      await Bun.sleep(wait);
    }
  }
  await Promise.all(running);
  return 0;
}
