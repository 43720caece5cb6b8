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
import type { CommandResult, JobResult, PreparedJob } from '../ports.ts';
import { fileSize, formatCpuTimes, type CpuTimes } from '../../runner/meta.ts';
import { jobSecrets, jobNeeds } from '../scheduler/prepare.ts';
import { appendChunk, logShortfall } from './log-upload.ts';

export interface ClaimRequest {
  agent: string; pool?: string; executors: string[]; wait_s?: number;
  /** up to this many jobs in one answer (default 1) */
  max?: number;
  /** epoch ms when the agent's life ends (its allocation's walltime): a job whose resources.time does not fit is not handed out */
  until?: number;
  /** what the agent has free: the jobs handed out together fit in it (a job asking for more is not handed out) */
  resources?: { cpus?: number; gpus?: number };
}
/** One job handed out: the lease, the portable script, its env (and its secrets' values, if any). */
export interface ClaimAnswer {
  secrets?: Record<string, string>;
  needs?: ReturnType<typeof jobNeeds>;
  job: { id: string; run_id: string; name: string; attempt: number; commands: number; timeout_ms: number | null | undefined; cpus: number; gpus: number };
  lease: { token: string; expires_at: string; ttl_ms: number };
  script: string;
  env: Record<string, string>;
}

/** Jobs read per claim for each job asked for: others' pools and jobs that do not fit are skipped in JS. */
const READ_FACTOR = 4;
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
  readonly counters = { claims: 0, claim_requests: 0, completions: 0, refused_completions: 0, heartbeats: 0, lease_expired: 0 };
  /** told of each claim that handed out jobs (allocation queues count the jobs of their agents) */
  readonly claimListeners: ((agent: string, jobs: number) => void)[] = [];

  constructor(private eng: Engine, private o: BrokerOptions) {}

  /** Wake long-polling claims (something was queued). */
  notify(): void {
    for (const w of this.waiters) w();
    this.waiters.clear();
  }

  close(): void { this.closed = true; this.notify(); }

  /** One job (or null), as the protocol answers without `max`. */
  async claim(req: ClaimRequest): Promise<ClaimAnswer | null> {
    return (await this.claimMany({ ...req, max: 1 }))[0] ?? null;
  }

  /** Up to `req.max` jobs in one answer; an empty list after `wait_s` with no work. */
  async claimMany(req: ClaimRequest): Promise<ClaimAnswer[]> {
    this.counters.claim_requests++;
    const deadline = this.eng.clock.now() + Math.min((req.wait_s ?? 0) * 1000, this.o.maxWaitMs ?? 60_000);
    for (;;) {
      if (this.closed) throw new DroverError('shutting_down', 'the server is shutting down; claim again later');
      const got = this.tryClaim(req);
      if (got.length) {
        for (const l of this.claimListeners) { try { l(req.agent, got.length); } catch (err) { this.eng.log.warn('claim listener failed', { err: String(err) }); } }
        return got;
      }
      const left = deadline - this.eng.clock.now();
      if (left <= 0) return [];
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, Math.min(left, 1000));
        function done() { clearTimeout(t); resolve(); }
        this.waiters.add(done);
      });
    }
  }

  /**
   * Hands out up to `max` queued jobs in ONE transaction (one commit for the batch), each in its own
   * savepoint: a job that fails its checks or hits a bug is skipped, the others still start. Only jobs
   * of the agent's pool (or none), whose time fits before `until` and whose cpus/gpus fit in what the
   * agent has free (summed over the batch) are taken.
   */
  private tryClaim(req: ClaimRequest) {
    const eng = this.eng;
    const now = eng.clock.now();
    const at = isoNow(now);
    const max = Math.max(1, Math.floor(req.max ?? 1));
    const executors = req.executors.length ? req.executors : ['agent'];
    const free = { cpus: req.resources?.cpus ?? Infinity, gpus: req.resources?.gpus ?? Infinity };
    const out: ClaimAnswer[] = [];
    const candidates = eng.store.queuedForAgent(executors, now, Math.max(32, max * READ_FACTOR));
    if (!candidates.length) return out;
    eng.transact(() => {
      for (const job of candidates) {
        if (out.length >= max) break;
        const spec = eng.catalog.jobSpecOf(job);
        if (spec.pool && spec.pool !== req.pool) continue;
        if (!fitsBefore(spec.resources.time_ms, now, req.until)) continue;
        const cpus = spec.resources.cpus ?? 1, gpus = spec.resources.gpus ?? 0;
        if (cpus > free.cpus || gpus > free.gpus) continue;
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
        free.cpus -= cpus; free.gpus -= gpus;
        out.push(this.answer(job, started.prepared, lease, { cpus, gpus }));
      }
    });
    this.counters.claims += out.length;
    return out;
  }

  private answer(job: JobRow, prepared: PreparedJob, lease: { token: string; expiresAt: number }, res: { cpus: number; gpus: number }): ClaimAnswer {
    // the job's secrets travel in this answer only: the agent writes them to a 0600 file that job.sh
    // sources and deletes, and redacts them from the logs it uploads (never in the script or env)
    const secrets = jobSecrets(prepared);
    return {
      ...(secrets ? { secrets } : {}),
      needs: jobNeeds(prepared), // the agent writes it to $DROVER_NEEDS before the script starts
      job: { id: job.id, run_id: job.run_id, name: job.name, attempt: job.attempt, commands: prepared.commandCount, timeout_ms: prepared.timeoutMs, ...res },
      lease: { token: lease.token, expires_at: isoNow(lease.expiresAt), ttl_ms: this.o.leaseTtlMs },
      script: prepared.scriptText!,
      env: { DROVER_RUN_ID: job.run_id, DROVER_JOB_ID: job.id, DROVER_ATTEMPT: String(job.attempt) },
    };
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

/** A job with a time limit fits when it would end before `until`; one without a limit always fits. */
export function fitsBefore(timeMs: number | undefined, now: number, until: number | undefined): boolean {
  return until === undefined || timeMs === undefined || now + timeMs <= until;
}
