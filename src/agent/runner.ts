// Runs one claimed job on the agent's machine: the server's portable job.sh in a local folder,
// heartbeats on their own timer (a few misses are tolerated; a 409 means the lease is gone and the
// job is stopped), log chunks shipped by byte offset, and one completion with the lease token.
// A job with secrets gets their values in the claim: they go to a 0600 .secrets file that job.sh
// sources and deletes, its output to raw/, and a local redacting copier makes logs/ from it — so
// what is uploaded (logs and outputs) is already redacted.
// $DROVER_NEEDS comes in the claim and is written beside job.sh before it starts; the jobs of one run
// that this agent runs share one work dir here, <work>/runs/<run>/work ($DROVER_WORKDIR).
import { mkdirSync, writeFileSync, openSync, readSync, fstatSync, closeSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { readJobResult, readCpuTimes } from '../runner/meta.ts';
import { killGroup } from '../plugins/local/proc.ts';
import { shellQuote } from '../runner/quote.ts';
import { Copier } from '../core/redact/copier.ts';
import { Redactor } from '../core/redact/redactor.ts';
import { writeNeedsFile, type NeedsDoc } from '../core/scheduler/needs.ts';
import type { AgentApi } from './api.ts';

export interface Claim {
  job: { id: string; run_id: string; name: string; attempt: number; commands: number };
  lease: { token: string; expires_at: string; ttl_ms: number };
  script: string;
  env: Record<string, string>;
  secrets?: Record<string, string>;
  /** the $DROVER_NEEDS document (fan-in); absent from servers before it existed */
  needs?: NeedsDoc;
}


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
  const redactor = new Redactor(secrets.map(([name, value]) => ({ name, value })));
  let copier: Copier | null = null;
  if (secrets.length) {
    mkdirSync(join(dir, 'raw'), { recursive: true, mode: 0o700 });
    rmSync(join(dir, '.secrets'), { force: true }); // left by an agent that died: written afresh, 0600
    writeFileSync(join(dir, '.secrets'), secrets.map(([k, v]) => `export ${k}=${shellQuote(v)}\n`).join(''), { mode: 0o600, flag: 'wx' });
    copier = new Copier({ dir, commandCount: job.commands, redactor, maxLogSize: null }).start();
  }
  const proc = Bun.spawn(['bash', join(dir, 'job.sh')], {
    cwd: dir, env: { ...process.env, ...claim.env, DROVER_JOB_DIR: dir, DROVER_WORKDIR: runWork }, stdin: 'ignore', stdout: 'ignore', stderr: 'ignore', detached: true,
  });
  let leaseLost = false;
  let stopping = false;
  const stop = (why: string) => {
    if (stopping) return;
    stopping = true;
    log(`stopping job ${job.id}: ${why}`);
    killGroup(proc.pid, 'SIGTERM');
    setTimeout(() => killGroup(proc.pid, 'SIGKILL'), 5000).unref();
  };
  const beat = setInterval(async () => {
    const r = await api.post(`/jobs/${job.id}/heartbeat`, { lease_token: lease.token }).catch(() => null);
    if (!r) return; // server away: keep running, keep trying (the lease has a grace after its restart)
    if (r.status === 409) { leaseLost = true; stop('lease lost'); }
    else if (r.status === 200 && (r.body as { cancel?: boolean }).cancel) stop('canceled by the server');
  }, Math.max(200, lease.ttl_ms / 3));

  const shipped = new Array<number>(job.commands).fill(0);
  let shipping = false;
  const ship = async () => {
    if (shipping || leaseLost) return;
    shipping = true;
    try {
      for (let i = 0; i < job.commands; i++) {
        const chunk = readFrom(join(dir, 'logs', `${i}.log`), shipped[i]!);
        if (!chunk.length) continue;
        const r = await api.postBytes(`/jobs/${job.id}/logs?command=${i}&offset=${shipped[i]}`, chunk, lease.token).catch(() => null);
        if (r?.status === 200) shipped[i] = (r.body as { size: number }).size;
        else if (r?.status === 409 && (r.body as any)?.error?.details?.code === 'log_gap') shipped[i] = (r.body as any).error.details.size;
        else if (r?.status === 409) leaseLost = true;
      }
    } finally { shipping = false; }
  };
  const shipper = setInterval(ship, 250);
  await proc.exited;
  clearInterval(shipper);
  while (shipping) await Bun.sleep(20);
  if (copier) await copier.drain(); // the rest of raw/, redacted, into logs/; raw/ and .secrets removed
  await ship();
  clearInterval(beat);
  if (leaseLost) { log(`job ${job.id}: lease lost; not completing`); return; }
  const result = readJobResult(dir, job.commands);
  for (const k of Object.keys(result.outputs)) result.outputs[k] = redactor.redactString(result.outputs[k]!);
  const cpu = readCpuTimes(dir) ?? undefined;
  const body = { lease_token: lease.token, commands: result.commands.map((c) => ({ exit_code: c.exit_code, started_at: c.started_at, ended_at: c.ended_at })), outputs: result.outputs, cpu };
  for (let attempt = 0; ; attempt++) {
    const r = await api.post(`/jobs/${job.id}/complete`, body).catch(() => null);
    if (r && (r.status === 200 || r.status === 409 || r.status === 404)) {
      log(r.status === 200 ? `job ${job.id} completed (rc ${result.rc})` : `job ${job.id}: completion refused (${r.status})`);
      return;
    }
    await Bun.sleep(backoff(attempt));
  }
}

/** Exponential backoff with full jitter, capped at 10 s. */
export const backoff = (attempt: number) => Math.random() * Math.min(10_000, 250 * 2 ** attempt);

function readFrom(path: string, offset: number): Uint8Array {
  let fd: number;
  try { fd = openSync(path, 'r'); } catch { return new Uint8Array(0); }
  try {
    const size = fstatSync(fd).size;
    const len = Math.min(size - offset, 1 << 20);
    if (len <= 0) return new Uint8Array(0);
    const buf = new Uint8Array(len);
    readSync(fd, buf, 0, len, offset);
    return buf;
  } finally { closeSync(fd); }
}
