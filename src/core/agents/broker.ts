// The agent broker: remote `drover agent`s claim queued jobs (long-poll), hold them by a lease
// (token + expiry, renewed by heartbeats), upload logs by byte offset and complete them. A claim is
// one conditional write, so two agents racing for a job can never both win; a completion is accepted
// once, and only with the current lease token (fencing): a late or repeated one is refused (409).
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DroverError, isStorageError } from '../errors.ts';
import { isoNow } from '../ids.ts';
import type { Engine } from '../scheduler/engine.ts';
import type { JobRow } from '../types.ts';
import type { CommandResult, JobResult } from '../ports.ts';
import { fileSize, formatCpuTimes, type CpuTimes } from '../../runner/meta.ts';
import { jobSecrets, jobNeeds } from '../scheduler/prepare.ts';
import { appendChunk, logShortfall } from './log-upload.ts';

export interface ClaimRequest { agent: string; pool?: string; executors: string[]; wait_s?: number }
export interface CompleteRequest {
  lease_token: string; commands: { exit_code: number | null; started_at?: string | null; ended_at?: string | null }[]; outputs?: Record<string, string>;
  cpu?: CpuTimes;
  /** each command's log size as the agent holds it: the completion waits (409 log_incomplete) until stored */
  logs?: number[];
  /** the agent's runner refused to run (workspace_escape) or found files not its own (unsafe_file) */
  failure?: { reason: string; message: string };
}

export interface BrokerOptions {
  leaseTtlMs: number; maxWaitMs?: number;
  /** --max-log-size: stored log per job (null: no cap) */
  maxLogSize?: number | null;
}

export class AgentBroker {
  private waiters = new Set<() => void>();
  closed = false;
  readonly counters = { claims: 0, completions: 0, refused_completions: 0, heartbeats: 0, lease_expired: 0 };

  constructor(private eng: Engine, private o: BrokerOptions) {}

  /** Wake long-polling claims (something was queued). */
  notify(): void {
    for (const w of this.waiters) w();
    this.waiters.clear();
  }

  close(): void { this.closed = true; this.notify(); }

  async claim(req: ClaimRequest) {
    const deadline = this.eng.clock.now() + Math.min((req.wait_s ?? 0) * 1000, this.o.maxWaitMs ?? 60_000);
    for (;;) {
      if (this.closed) throw new DroverError('shutting_down', 'the server is shutting down; claim again later');
      const got = this.tryClaim(req);
      if (got) return got;
      const left = deadline - this.eng.clock.now();
      if (left <= 0) return null;
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, Math.min(left, 1000));
        function done() { clearTimeout(t); resolve(); }
        this.waiters.add(done);
      });
    }
  }

  private tryClaim(req: ClaimRequest) {
    const eng = this.eng;
    const now = eng.clock.now();
    const at = isoNow(now);
    const executors = req.executors.length ? req.executors : ['agent'];
    for (const job of eng.store.queuedForAgent(executors, now, 32)) {
      const pool = eng.catalog.jobSpecOf(job).pool;
      if (pool && pool !== req.pool) continue;
      const lease = { token: `lease_${randomBytes(18).toString('base64url')}`, expiresAt: now + this.o.leaseTtlMs };
      let started;
      try {
        started = eng.transact(() => eng.startOne(job, at, now, lease));
      } catch (err) {
        if (isStorageError(err)) throw err;
        eng.log.error('claim failed for one job', { jobId: job.id, err: String(err) });
        continue;
      }
      if (!started) continue; // lost the race, or the job failed its checks
      this.counters.claims++;
      // the job's secrets travel in this answer only: the agent writes them to a 0600 file that job.sh
      // sources and deletes, and redacts them from the logs it uploads (never in the script or env)
      const secrets = jobSecrets(started.prepared);
      return {
        ...(secrets ? { secrets } : {}),
        needs: jobNeeds(started.prepared), // the agent writes it to $DROVER_NEEDS before the script starts
        job: { id: job.id, run_id: job.run_id, name: job.name, attempt: job.attempt, commands: started.prepared.commandCount, timeout_ms: started.prepared.timeoutMs },
        lease: { token: lease.token, expires_at: isoNow(lease.expiresAt), ttl_ms: this.o.leaseTtlMs },
        script: started.prepared.scriptText!,
        env: { DROVER_RUN_ID: job.run_id, DROVER_JOB_ID: job.id, DROVER_ATTEMPT: String(job.attempt) },
      };
    }
    return null;
  }

  /** The job if `token` is its current lease, else a 409 that says what happened. */
  private held(jobId: string, token: string): JobRow {
    const job = this.eng.store.getJob(jobId);
    if (!job) throw new DroverError('not_found', `no job ${jobId}`);
    if (job.status !== 'running' || !token || job.lease_token !== token) {
      throw new DroverError('conflict', `the lease on job ${jobId} is no longer held (job is ${job.status}, attempt ${job.attempt})`, { code: 'lease_lost', status: job.status, attempt: job.attempt });
    }
    return job;
  }

  heartbeat(jobId: string, token: string) {
    const job = this.held(jobId, token);
    const expires = this.eng.clock.now() + this.o.leaseTtlMs;
    if (!this.eng.store.renewLease(jobId, token, expires)) this.held(jobId, token);
    this.counters.heartbeats++;
    return { expires_at: isoNow(expires), cancel: job.stop_reason !== null, reason: job.stop_reason };
  }

  /** Append a raw chunk at `offset` of command `command`'s log; a repeated chunk is not stored twice. */
  appendLog(jobId: string, token: string, command: number, offset: number, data: Uint8Array) {
    const job = this.held(jobId, token);
    // output is a sign of life too: an agent too starved to send heartbeats on time keeps its lease while it ships logs
    this.eng.store.renewLease(jobId, token, this.eng.clock.now() + this.o.leaseTtlMs);
    const commands = this.eng.commandCount(job);
    if (!Number.isInteger(command) || command < 0 || command >= commands) throw new DroverError('invalid_request', `command: must be 0..${commands - 1}`, { path: 'command' });
    return appendChunk(this.eng.jobDir(job), command, commands, offset, data, this.o.maxLogSize ?? null);
  }

  /** Exactly once: only the current lease token completes, and completing clears it. */
  complete(jobId: string, req: CompleteRequest) {
    const eng = this.eng;
    const now = eng.clock.now();
    const at = isoNow(now);
    try {
      eng.transact(() => {
        const job = this.held(jobId, req.lease_token);
        const stored = logShortfall(eng.jobDir(job), eng.commandCount(job), req.logs, this.o.maxLogSize ?? null);
        if (stored) throw new DroverError('log_incomplete', `job ${jobId}: the stored log is shorter than the agent's (${stored.join(', ')} bytes stored); send the rest, then complete again`, { code: 'log_incomplete', sizes: stored });
        // the agent's runner measured the CPU: kept where a local job's runner leaves it (the cost is read from there)
        if (req.cpu) writeFileSync(join(eng.jobDir(job), 'job.out'), formatCpuTimes(req.cpu), { mode: 0o600 });
        eng.finishRunning(job, this.resultOf(job, req), at, now);
      });
    } catch (err) {
      if (err instanceof DroverError && err.code === 'conflict') {
        this.counters.refused_completions++;
        eng.log.warn('refused a completion without the current lease', { jobId, err: err.message });
      }
      throw err;
    }
    this.counters.completions++;
    eng.wake();
    return { ok: true };
  }

  private resultOf(job: JobRow, req: CompleteRequest): JobResult {
    const spec = this.eng.catalog.jobSpecOf(job);
    const dir = this.eng.jobDir(job);
    const commands: CommandResult[] = spec.commands.map((_, i) => {
      const c = req.commands?.[i];
      const code = typeof c?.exit_code === 'number' ? c.exit_code : null;
      return { exit_code: code, started_at: c?.started_at ?? null, ended_at: c?.ended_at ?? null, log_size: fileSize(join(dir, 'logs', `${i}.log`)) };
    });
    let rc: number | null = 0;
    for (let i = 0; i < commands.length; i++) {
      const code = commands[i]!.exit_code;
      if (code === null) { rc = null; break; }
      if (code !== 0 && !spec.commands[i]!.allow_failure) { rc = code; break; }
    }
    return { rc, commands, outputs: req.outputs ?? {}, ...(req.failure ? { refused: req.failure } : {}) };
  }
}
