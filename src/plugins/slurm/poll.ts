// Polling: ONE squeue per interval for every job of this executor, whatever their number; one sacct for
// those that have left squeue; the runner's files (meta, `__DROVER_RC=`) when accounting is not there.
// A failing squeue or sacct is retried with backoff and reported (describe/metrics), never turned into
// failed jobs. A higher restart count than the handle's is a requeue (same Slurm id): a new attempt.
// The interval adapts: pollMinMs while jobs start or change, growing ×1.5 to pollMaxMs when nothing does.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ExitOutcome, JobResult, Logger, Observation } from '../../core/ports.ts';
import { readJobResult } from '../../runner/meta.ts';
import { firstLine, type SlurmCli } from './cli.ts';
import { backoffMs, type SlurmOptions } from './options.ts';
import { accountingFromFailure, parseSacct, sacctArgs, type Accounting, type SacctRow } from './sacct.ts';
import { parseSqueue, squeueArgs, type SqueueRow } from './squeue.ts';
import { baseState, ruleFor, type SlurmPhase } from './state-map.ts';
import type { SlurmHandle } from './submit.ts';

type Item = { jobId: string; attempt: number; handle: SlurmHandle };

/** How long a finished job's runner result may lag behind Slurm's state (shared filesystems). */
const RESULT_GRACE_MS = 3000;
/** How long "accounting is off/missing" is believed before sacct is tried again. */
const ACCOUNTING_RECHECK_MS = 5 * 60_000;
const SACCT_CHUNK = 200;

export class Poller {
  /** the last squeue view of each job we track: Slurm state, phase and pending reason */
  seen = new Map<string, { slurmId: string; state: string; phase: SlurmPhase | null; reason: string }>();
  accounting: Accounting = 'unknown';
  private accountingAt = 0;
  squeueFailures = 0;
  failingSince: number | null = null;
  lastError: string | null = null;
  sacctFailures = 0;
  private interval: number;
  private activeUntil = 0;
  private polled = false;
  private terminalAt = new Map<string, number>();
  private missingAt = new Map<string, number>();

  constructor(private cli: SlurmCli, private o: SlurmOptions, private log: () => Logger) {
    this.interval = o.pollMinMs;
  }

  /** Poll fast for a while: jobs were just submitted, adopted or changed. */
  activity(): void { this.activeUntil = Date.now() + 15_000; this.interval = this.o.pollMinMs; }

  intervalMs(): number {
    // no poll since the last call: the engine had no jobs to ask about, and asking it costs no squeue
    if (!this.polled) return this.o.pollMinMs;
    this.polled = false;
    if (this.squeueFailures > 0) return Math.max(this.o.pollMinMs, backoffMs(this.squeueFailures, this.o.maxBackoffMs));
    if (Date.now() < this.activeUntil) return this.o.pollMinMs;
    this.interval = Math.min(this.o.pollMaxMs, Math.round(this.interval * 1.5));
    return this.interval;
  }

  async poll(items: Item[]): Promise<Observation[]> {
    this.polled = true;
    const r = await this.cli.run('squeue', squeueArgs(this.o.user));
    if (!r.ok) {
      this.squeueFailures++;
      this.failingSince ??= Date.now();
      this.lastError = firstLine(r.stderr) || `exit ${r.code}`;
      if (this.squeueFailures === 1 || this.squeueFailures % 10 === 0) {
        this.log().warn('squeue failed; jobs stay as they were, retrying with backoff', { error: this.lastError, failures: this.squeueFailures });
      }
      return items.map(running);
    }
    if (this.squeueFailures) this.log().info('squeue answers again', { after: this.squeueFailures });
    this.squeueFailures = 0; this.failingSince = null; this.lastError = null;
    const rows = parseSqueue(r.stdout);
    const seen = new Map<string, { slurmId: string; state: string; phase: SlurmPhase | null; reason: string }>();
    const obs: Observation[] = [];
    const missing: Item[] = [];
    for (const it of items) {
      const h = it.handle;
      if (!h.slurmId) { obs.push(running(it)); continue; } // a refused submission: its failure is on its way
      const row = rows.get(h.slurmId);
      if (!row) { missing.push(it); continue; }
      this.missingAt.delete(it.jobId);
      const rule = ruleFor(row.state, (s) => this.log().warn('unknown Slurm job state; watching the job until it leaves the queue', { state: s, slurmId: h.slurmId }));
      const phase = rule?.kind === 'active' ? rule.phase : null;
      const prev = this.seen.get(it.jobId);
      if (!prev || prev.state !== row.state) this.activity();
      seen.set(it.jobId, { slurmId: h.slurmId, state: row.state, phase, reason: row.reason });
      if (row.restarts > (h.restarts ?? 0)) { obs.push(this.requeued(it, row)); continue; }
      if (!rule) { obs.push(this.fromFiles(it, false) ?? running(it)); continue; }
      if (rule.kind === 'active') { this.terminalAt.delete(it.jobId); obs.push(running(it)); continue; }
      obs.push(this.finish(it, row.state, null) ?? running(it));
    }
    this.seen = seen;
    if (missing.length) obs.push(...(await this.resolveMissing(missing)));
    return obs;
  }

  /** Jobs squeue no longer lists: sacct says how they ended; without accounting, the runner's files. */
  private async resolveMissing(items: Item[]): Promise<Observation[]> {
    const now = Date.now();
    for (const it of items) if (!this.missingAt.has(it.jobId)) this.missingAt.set(it.jobId, now);
    const acct = await this.sacct(items.map((i) => i.handle.slurmId!));
    return items.map((it) => {
      const since = this.missingAt.get(it.jobId)!;
      const row = acct?.get(it.handle.slurmId!);
      if (row) {
        const rule = ruleFor(row.state);
        // sacct still says PENDING/RUNNING: it lags the end of a job; give it a while, then trust the files
        if (rule?.kind === 'active') return now - since > this.o.missingGraceMs ? this.settle(it) : running(it);
        return this.finish(it, row.state, row) ?? running(it);
      }
      if (this.accounting === 'off' || this.accounting === 'missing') return this.settle(it);
      // accounting is down, or has no record yet: wait for it (bounded), never guess from silence
      return now - since > (this.accounting === 'down' ? 10 : 1) * this.o.missingGraceMs ? this.settle(it) : running(it);
    });
  }

  private async sacct(ids: string[]): Promise<Map<string, SacctRow> | null> {
    if ((this.accounting === 'off' || this.accounting === 'missing') && Date.now() - this.accountingAt < ACCOUNTING_RECHECK_MS) return null;
    const rows = new Map<string, SacctRow>();
    for (let i = 0; i < ids.length; i += SACCT_CHUNK) {
      const r = await this.cli.run('sacct', sacctArgs(ids.slice(i, i + SACCT_CHUNK)), { countFailure: (x) => accountingFromFailure(x) === 'down' });
      if (!r.ok) {
        const was = this.accounting;
        this.accounting = accountingFromFailure(r);
        this.accountingAt = Date.now();
        if (this.accounting === 'down') this.sacctFailures++;
        if (was !== this.accounting) this.log().warn('sacct is not usable; using the runner files for jobs that left the queue', { accounting: this.accounting, error: firstLine(r.stderr) });
        return null;
      }
      for (const [k, v] of parseSacct(r.stdout)) rows.set(k, v);
    }
    this.accounting = 'ok'; this.accountingAt = Date.now(); this.sacctFailures = 0;
    return rows;
  }

  /** A terminal Slurm state → the exited observation; null: wait a moment for the runner's result. */
  private finish(it: Item, state: string, acct: SacctRow | null): Observation | null {
    const base = baseState(state);
    const rule = ruleFor(state) ?? { kind: 'failed' as const, reason: `slurm:${base}`, message: `Slurm reported the state ${base}, which drover does not know` };
    const result = readJobResult(it.handle.dir, it.handle.commandCount);
    // The runner finished: its result decides for COMPLETED/FAILED, and whenever every command succeeded.
    // A non-zero code under CANCELLED, TIMEOUT… is the signal's doing (the runner may still write its
    // marker as the signal kills its command): there Slurm's state says what happened.
    if (result.rc !== null && (rule.kind === 'runner' || result.rc === 0)) return this.done(it, result);
    if (rule.kind === 'runner') {
      const first = this.terminalAt.get(it.jobId) ?? Date.now();
      this.terminalAt.set(it.jobId, first);
      if (Date.now() - first < RESULT_GRACE_MS) return null;
      const code = acct?.exitCode ?? null;
      return this.done(it, result, {
        status: 'failed', reason: `slurm:${base}`,
        message: `Slurm says ${base}${code !== null ? ` (exit code ${code})` : ''} but the job runner left no result; is the job folder visible on the compute node? See ${join(it.handle.dir, 'slurm.out')}`,
      });
    }
    if (rule.kind === 'canceled') return this.done(it, result, { status: 'canceled', reason: `slurm:${base}`, message: `canceled outside drover (Slurm ${state.trim()})` });
    if (rule.kind === 'failed') return this.done(it, result, { status: 'failed', reason: rule.reason, message: rule.message });
    return null;
  }

  /** No word from Slurm at all: the runner's files decide (the marker line, else lost). */
  private settle(it: Item): Observation {
    return this.fromFiles(it, true)!;
  }

  private fromFiles(it: Item, final: boolean): Observation | null {
    const result = readJobResult(it.handle.dir, it.handle.commandCount);
    if (result.rc !== null) return this.done(it, result);
    if (!final) return null;
    this.forget(it.jobId);
    return { jobId: it.jobId, attempt: it.attempt, state: 'exited', result, lostReason: 'the job left the Slurm queue without a result from its runner, and Slurm accounting (sacct) could not say how it ended' };
  }

  private done(it: Item, result: JobResult, outcome?: ExitOutcome): Observation {
    this.forget(it.jobId);
    return { jobId: it.jobId, attempt: it.attempt, state: 'exited', result, ...(outcome ? { outcome } : {}) };
  }

  private forget(jobId: string): void { this.terminalAt.delete(jobId); this.missingAt.delete(jobId); }

  /** Slurm restarted the job under the same id: the attempt we knew ended; its files are in attempt-<n>/ once the new run began. */
  private requeued(it: Item, row: SqueueRow): Observation {
    const h = it.handle;
    const moved = join(h.dir, `attempt-${it.attempt}`);
    const result = readJobResult(existsSync(join(moved, 'meta')) ? moved : h.dir, h.commandCount);
    this.forget(it.jobId);
    return {
      jobId: it.jobId, attempt: it.attempt, state: 'requeued', handle: { ...h, restarts: row.restarts }, result,
      reason: 'slurm:REQUEUED', message: `Slurm requeued the job (restart ${row.restarts} of Slurm job ${h.slurmId}); it runs again as attempt ${it.attempt + 1}`,
    };
  }
}

const running = (it: { jobId: string; attempt: number }): Observation => ({ jobId: it.jobId, attempt: it.attempt, state: 'running' });
