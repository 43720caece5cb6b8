// Runs one claimed job on the agent's machine: the server's portable job.sh in a local folder (the
// spool), heartbeats on their own timer (a few misses are tolerated; a 409 means the lease is gone and
// the job is stopped), log chunks shipped by byte offset, and one completion with the lease token.
// A job with secrets gets their values in the claim: they go to a 0600 .secrets file that job.sh
// sources and deletes, its output to raw/, and a local redacting copier makes logs/ from it — so
// what is uploaded (logs and outputs) is already redacted.
// The completion carries each command's log size: while the server's stored log is shorter (output
// printed while it was down), it answers 409 log_incomplete with the sizes it has, and the agent sends
// the rest from its spool and completes again. The claim (lease included, secrets never) is kept in
// the spool as claim.json until the completion is answered, so an agent restarted on the same
// --work-dir picks its jobs up again (resumeSpool): it waits for the job to end, ships, completes.
// $DROVER_NEEDS comes in the claim and is written beside job.sh before it starts; the jobs of one run
// that this agent runs share one work dir here, <work>/runs/<run>/work ($DROVER_WORKDIR).
import { mkdirSync, writeFileSync, readSync, fstatSync, closeSync, rmSync, readdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { readJobResult, readCpuTimes, readMarkers } from '../runner/meta.ts';
import { killGroup } from '../plugins/local/proc.ts';
import { shellQuote } from '../runner/quote.ts';
import { Copier } from '../core/redact/copier.ts';
import { openInJob, readInJob } from '../runner/safe-open.ts';
import { Redactor } from '../core/redact/redactor.ts';
import { jobEnv } from '../runner/job-env.ts';
import { writeNeedsFile, type NeedsDoc } from '../core/scheduler/needs.ts';
import type { AgentApi } from './api.ts';

export interface Claim {
  job: { id: string; run_id: string; name: string; attempt: number; commands: number; cpus?: number; gpus?: number };
  lease: { token: string; expires_at: string; ttl_ms: number };
  script: string;
  env: Record<string, string>;
  secrets?: Record<string, string>;
  /** the $DROVER_NEEDS document (fan-in); absent from servers before it existed */
  needs?: NeedsDoc;
}

/** Set once this agent got SIGTERM (its allocation or its host is going away). */
export const agentStatus = { terminating: false };
/** Exit codes of a job killed by a signal (TERM recorded by the runner, or KILL). */
const KILLED = new Set([143, 137]);
/** how long a job killed by a signal waits for this agent's own SIGTERM (sent by the same scancel) */
const SIGNAL_WAIT_MS = 2_000;

async function untilTerminating(ms: number): Promise<void> {
  for (const end = Date.now() + ms; !agentStatus.terminating && Date.now() < end;) await Bun.sleep(50);
}

/** What the spool keeps of a claim (claim.json): enough to finish the job after a restart, no secret. */
interface Kept { job: Claim['job']; lease: Claim['lease']; secrets: boolean }
const CLAIM_FILE = 'claim.json';

export async function runClaim(api: AgentApi, claim: Claim, workDir: string, log: (m: string) => void): Promise<void> {
  const { job, lease } = claim;
  const dir = join(workDir, `${job.id}-${job.attempt}`);
  mkdirSync(join(dir, 'logs'), { recursive: true, mode: 0o700 });
  mkdirSync(join(dir, 'meta'), { recursive: true, mode: 0o700 });
  writeFileSync(join(dir, 'job.sh'), claim.script, { mode: 0o700 });
  writeNeedsFile(dir, claim.needs ?? {});
  const runWork = join(workDir, 'runs', job.run_id, 'work');
  mkdirSync(runWork, { recursive: true, mode: 0o700 });
  const secrets = Object.entries(claim.secrets ?? {});
  keep(dir, { job, lease, secrets: secrets.length > 0 });
  const redactor = new Redactor(secrets.map(([name, value]) => ({ name, value })));
  let copier: Copier | null = null;
  if (secrets.length) {
    mkdirSync(join(dir, 'raw'), { recursive: true, mode: 0o700 });
    rmSync(join(dir, '.secrets'), { force: true }); // left by an agent that died: written afresh, 0600
    writeFileSync(join(dir, '.secrets'), secrets.map(([k, v]) => `export ${k}=${shellQuote(v)}\n`).join(''), { mode: 0o600, flag: 'wx' });
    copier = new Copier({ dir, commandCount: job.commands, redactor, maxLogSize: null }).start();
  }
  const proc = Bun.spawn(['bash', join(dir, 'job.sh')], {
    cwd: dir, env: jobEnv(process.env, { ...claim.env, DROVER_JOB_DIR: dir, DROVER_WORKDIR: runWork }), // never the agent's own token
    stdin: 'ignore', stdout: 'ignore', stderr: 'ignore', detached: true,
  });
  await supervise(api, { job, lease, secrets: secrets.length > 0 }, dir, { pid: proc.pid, exited: proc.exited.then(() => {}) }, copier, redactor, log);
}

/** After a restart: finish every job the spool still holds a claim for (jobs with secrets cannot be: their values are gone). */
export function resumeSpool(api: AgentApi, workDir: string, log: (m: string) => void): Promise<void>[] {
  let names: string[];
  try { names = readdirSync(workDir); } catch { return []; }
  const out: Promise<void>[] = [];
  for (const name of names) {
    const dir = join(workDir, name);
    let kept: Kept;
    try { kept = JSON.parse(readInJob(dir, CLAIM_FILE) ?? 'null') as Kept; } catch { continue; }
    if (!kept?.job?.id || !kept.lease?.token) continue;
    if (kept.secrets) {
      log(`job ${kept.job.id}: left by a previous agent, but its secrets are gone with it; leaving it to its lease`);
      rmSync(join(dir, CLAIM_FILE), { force: true });
      continue;
    }
    log(`job ${kept.job.id}: resuming from the spool (${dir})`);
    out.push(supervise(api, kept, dir, watchPid(dir), null, new Redactor([]), log).catch((e) => log(`job ${kept.job.id}: resume failed: ${e}`)));
  }
  return out;
}

/** A job this process did not start: ended once its runner printed the exit marker, or its pid is gone. */
function watchPid(dir: string): { pid: number | null; exited: Promise<void> } {
  const pid = readMarkers(dir).pid;
  const alive = () => { if (pid === null) return false; try { process.kill(pid, 0); return true; } catch { return false; } };
  return {
    pid,
    exited: (async () => { while (readMarkers(dir).rc === null && alive()) await Bun.sleep(200); })(),
  };
}

async function supervise(api: AgentApi, kept: Kept, dir: string, proc: { pid: number | null; exited: Promise<void> }, copier: Copier | null, redactor: Redactor, log: (m: string) => void): Promise<void> {
  const { job, lease } = kept;
  let leaseLost = false;
  let stopping = false;
  const stop = (why: string) => {
    if (stopping || proc.pid === null) return;
    stopping = true;
    log(`stopping job ${job.id}: ${why}`);
    killGroup(proc.pid, 'SIGTERM');
    setTimeout(() => killGroup(proc.pid!, 'SIGKILL'), 5000).unref();
  };
  const beat = setInterval(async () => {
    const r = await api.post(`/jobs/${job.id}/heartbeat`, { lease_token: lease.token }).catch(() => null);
    if (!r) return; // server away: keep running, keep trying (the lease has a grace after its restart)
    if (r.status === 409) { leaseLost = true; stop('lease lost'); }
    else if (r.status === 200 && (r.body as { cancel?: boolean }).cancel) stop('canceled by the server');
  }, Math.max(200, lease.ttl_ms / 3));

  const shipped = new Array<number>(job.commands).fill(0);
  let shipping = false;
  /** Sends what the server lacks; true once every command's log is stored whole. */
  const ship = async (): Promise<boolean> => {
    if (shipping || leaseLost) return false;
    shipping = true;
    let whole = true;
    try {
      for (let i = 0; i < job.commands; i++) {
        for (;;) {
          const chunk = readFrom(dir, `logs/${i}.log`, shipped[i]!);
          if (!chunk.length) break;
          const r = await api.postBytes(`/jobs/${job.id}/logs?command=${i}&offset=${shipped[i]}`, chunk, lease.token).catch(() => null);
          if (r?.status === 200) shipped[i] = (r.body as { size: number }).size;
          else if (r?.status === 409 && (r.body as any)?.error?.details?.code === 'log_gap') shipped[i] = (r.body as any).error.details.size;
          else { if (r?.status === 409) leaseLost = true; whole = false; break; } // server away (or the lease gone): later
        }
      }
    } finally { shipping = false; }
    return whole && !leaseLost;
  };
  const shipper = setInterval(ship, 250);
  await proc.exited;
  clearInterval(shipper);
  while (shipping) await Bun.sleep(20);
  if (copier) await copier.drain(); // the rest of raw/, redacted, into logs/; raw/ and .secrets removed
  // read the end first: a log the job replaced with a link becomes a warning line, which is what ships
  const result = readJobResult(dir, job.commands);
  const killed = !stopping && (result.rc === null || KILLED.has(result.rc));
  // scancel signals the job and this agent at once, and the job may end before our own SIGTERM handler
  // ran: a job killed by a signal waits a moment for it before its end counts as the job's own failure
  if (killed && !agentStatus.terminating) await untilTerminating(SIGNAL_WAIT_MS);
  if (killed && agentStatus.terminating) {
    // killed together with this agent (scancel or the walltime of its allocation, a host going down): not
    // the job's own failure. No completion: its lease runs out, it is `lost`, and retries.lost runs it again.
    log(`job ${job.id}: ended by a signal while this agent is stopping; leaving it to its lease (lost, then retried)`);
    clearInterval(beat);
    rmSync(join(dir, CLAIM_FILE), { force: true });
    return;
  }
  await ship();
  for (const k of Object.keys(result.outputs)) result.outputs[k] = redactor.redactString(result.outputs[k]!);
  const cpu = readCpuTimes(dir) ?? undefined;
  const logs = Array.from({ length: job.commands }, (_, i) => sizeOf(dir, i));
  const failure = result.refused ?? (result.unsafe?.length ? { reason: 'unsafe_file', message: `the job replaced files drover reads with links or other files: ${result.unsafe.join('; ')}`.slice(0, 4000) } : undefined);
  const body = { lease_token: lease.token, commands: result.commands.map((c) => ({ exit_code: c.exit_code, started_at: c.started_at, ended_at: c.ended_at })), outputs: result.outputs, cpu, logs, ...(failure ? { failure } : {}) };
  try {
    for (let attempt = 0; ; attempt++) {
      if (leaseLost) { log(`job ${job.id}: lease lost; not completing`); return; }
      await ship(); // whatever the server missed (it may have been down while the job printed)
      const r = await api.post(`/jobs/${job.id}/complete`, body).catch(() => null);
      if (r?.status === 409 && (r.body as any)?.error?.code === 'log_incomplete') {
        const sizes = (r.body as any).error.details.sizes as number[];
        sizes.forEach((n, i) => { if (i < shipped.length) shipped[i] = n; }); // resend from what it has
        log(`job ${job.id}: the server's log is incomplete (${sizes.join(', ')} bytes); sending the rest`);
        continue;
      }
      if (r && (r.status === 200 || r.status === 409 || r.status === 404)) {
        log(r.status === 200 ? `job ${job.id} completed (rc ${result.rc})` : `job ${job.id}: completion refused (${r.status})`);
        return;
      }
      await Bun.sleep(backoff(attempt));
    }
  } finally {
    clearInterval(beat);
    rmSync(join(dir, CLAIM_FILE), { force: true }); // answered (or given up): nothing to resume
  }
}

function keep(dir: string, k: Kept): void {
  const tmp = join(dir, `${CLAIM_FILE}.tmp`);
  rmSync(tmp, { force: true });
  writeFileSync(tmp, JSON.stringify(k), { mode: 0o600, flag: 'wx' });
  renameSync(tmp, join(dir, CLAIM_FILE));
}

function sizeOf(dir: string, i: number): number {
  let fd: number | null = null;
  try { fd = openInJob(dir, `logs/${i}.log`); return fd === null ? 0 : fstatSync(fd).size; } catch { return 0; } finally { if (fd !== null) closeSync(fd); }
}

/** Exponential backoff with full jitter, capped at 10 s. */
export const backoff = (attempt: number) => Math.random() * Math.min(10_000, 250 * 2 ** attempt);

/** Up to 1 MiB of a log from `offset`; never through a link the job left (runner/safe-open.ts). */
function readFrom(dir: string, rel: string, offset: number): Uint8Array {
  let fd: number | null;
  try { fd = openInJob(dir, rel); } catch { fd = null; }
  if (fd === null) return new Uint8Array(0);
  try {
    const size = fstatSync(fd).size;
    const len = Math.min(size - offset, 1 << 20);
    if (len <= 0) return new Uint8Array(0);
    const buf = new Uint8Array(len);
    readSync(fd, buf, 0, len, offset);
    return buf;
  } finally { closeSync(fd); }
}
