// The submission queue: jobs wait here until a token of the submit-rate cap is free; jobs of one group
// that share a Slurm template (the same sbatch options) then go as ONE `sbatch --array=0-N[%K]`, a lone
// job as a plain sbatch. While the bucket is empty, later jobs of the same template join the waiting
// batch, so a sweep whose jobs become ready one by one still makes few submissions.
// A failing sbatch is retried with backoff when the failure is the controller's (never failing a job for
// it); an ambiguous one (timed out) is first looked up by its unique job name, so nothing runs twice.
// Any other refusal fails the batch's jobs as spawn_failed.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Handle, Logger, PreparedJob } from '../../core/ports.ts';
import { firstLine, type SlurmCli } from './cli.ts';
import { backoffMs, type SlurmOptions } from './options.ts';
import { arrayWrapper, parseJobId, resourceArgs, singleWrapper, slurmPathPattern, TRANSIENT_SUBMIT } from './sbatch.ts';

export interface SlurmHandle extends Handle {
  /** `<id>` or `<array id>_<task>`; null when the submission failed */
  slurmId: string | null;
  arrayId?: string;
  task?: number;
  /** Slurm's restart count last recorded as a drover attempt (requeues) */
  restarts: number;
  /** the drover attempt the submission was made for (the wrapper numbers requeued runs' folders from it) */
  baseAttempt: number;
  name: string;
  submittedAt: number;
}

interface Waiting { job: PreparedJob; args: string[]; since: number; resolve: (h: SlurmHandle) => void }

export interface SubmitHooks {
  /** a job whose submission was refused: report it (spawn_failed) */
  failed(job: PreparedJob, message: string): void;
  submitted(n: number): void;
}

export class Submitter {
  private queue = new Map<string, Waiting[]>();
  /** the batch whose sbatch is running now (out of the queue meanwhile) */
  private submitting: Waiting[] | null = null;
  private tokens: number;
  private refilledAt = Date.now();
  private pumping = false;
  private failures = 0;
  /** names of submissions whose sbatch timed out: looked up before any new try */
  private uncertain = new Set<string>();
  backoffUntil = 0;
  lastError: string | null = null;
  submittedJobs = 0;

  constructor(private cli: SlurmCli, private o: SlurmOptions, private hooks: SubmitHooks, private log: () => Logger) {
    this.tokens = o.submitBurst;
  }

  get waiting(): number { let n = 0; for (const l of this.queue.values()) n += l.length; return n; }

  /** Why a job has no Slurm id yet, or null when it is not waiting here. */
  waitingReason(jobId: string): string | null {
    // (a batch whose sbatch is running is out of the queue meanwhile; it is waiting all the same)
    if (this.submitting?.some((w) => w.job.id === jobId)) {
      return this.failures ? `sbatch is failing (${this.lastError}); trying again now` : 'sbatch is submitting it';
    }
    for (const list of this.queue.values()) {
      if (!list.some((w) => w.job.id === jobId)) continue;
      if (Date.now() < this.backoffUntil) return `sbatch is failing (${this.lastError}); next try at ${new Date(this.backoffUntil).toISOString()}`;
      return `waiting for the submit-rate cap (${this.o.submitsPerMinute} sbatch calls a minute)`;
    }
    return null;
  }

  enqueue(jobs: PreparedJob[]): Promise<SlurmHandle[]> {
    const now = Date.now();
    const out = jobs.map((job) => new Promise<SlurmHandle>((resolve) => {
      // a job with secrets reads them once (the file is gone after): Slurm must not rerun it by itself;
      // a node failure or preemption ends the attempt (lost) and drover's retry starts a fresh one
      const args = job.rawLogs ? [...resourceArgs(job.resources), '--no-requeue'] : resourceArgs(job.resources);
      const key = JSON.stringify([job.groupId ?? job.runId, args]);
      const list = this.queue.get(key) ?? [];
      list.push({ job, args, since: now, resolve });
      this.queue.set(key, list);
    }));
    if (!this.pumping) { this.pumping = true; setTimeout(() => this.pump(), 20); }
    return Promise.all(out);
  }

  private refill(): void {
    const now = Date.now();
    this.tokens = Math.min(this.o.submitBurst, this.tokens + ((now - this.refilledAt) * this.o.submitsPerMinute) / 60_000);
    this.refilledAt = now;
  }

  private async pump(): Promise<void> {
    try {
      while (this.queue.size) {
        this.refill();
        const wait = Math.max(this.backoffUntil - Date.now(), this.tokens >= 1 ? 0 : ((1 - this.tokens) * 60_000) / this.o.submitsPerMinute);
        if (wait > 0) { await Bun.sleep(Math.min(wait, 1000)); continue; }
        const [key, list] = this.queue.entries().next().value as [string, Waiting[]];
        const batch = list.splice(0, this.o.maxArraySize);
        if (!list.length) this.queue.delete(key);
        this.tokens -= 1;
        this.submitting = batch;
        const ok = await this.submit(batch).finally(() => { this.submitting = null; });
        if (!ok) {
          // nothing was submitted: the same batch goes first next time, as it is (an uncertain earlier try is
          // looked up by its name, and must then map onto the same tasks)
          this.tokens += 1;
          this.queue = new Map([[`${key}\u0000retry:${batch[0]!.job.id}`, batch], ...this.queue]);
        }
      }
    } catch (err) {
      this.log().error('slurm submission queue failed', { err: String(err) });
    } finally {
      this.pumping = false;
      if (this.queue.size) { this.pumping = true; setTimeout(() => this.pump(), 1000); }
    }
  }

  /** One sbatch for the batch; false: try again later (the controller did not answer). */
  private async submit(batch: Waiting[]): Promise<boolean> {
    const first = batch[0]!.job;
    const name = `drover-${first.id}-a${first.attempt}`;
    const isArray = batch.length > 1;
    let script: string;
    const args = ['--parsable', `--job-name=${name}`, ...batch[0]!.args];
    try {
      if (isArray) {
        script = join(first.dir, 'slurm-array.sh');
        writeFileSync(script, arrayWrapper(batch.map((w) => ({ dir: w.job.dir, attempt: w.job.attempt }))), { mode: 0o700 });
        const k = this.o.arrayParallel;
        args.push(`--array=0-${batch.length - 1}${k ? `%${k}` : ''}`, '--output=/dev/null', `--chdir=${first.dir}`);
      } else {
        script = join(first.dir, 'slurm.sh');
        writeFileSync(script, singleWrapper(first.dir, first.attempt), { mode: 0o700 });
        args.push(`--output=${slurmPathPattern(join(first.dir, 'slurm.out'))}`, `--chdir=${first.dir}`);
      }
    } catch (err) {
      this.refuse(batch, `could not write the Slurm wrapper script: ${String(err)}`);
      return true;
    }
    const retryLater = (error: string) => {
      this.failures++;
      this.lastError = error;
      this.backoffUntil = Date.now() + backoffMs(this.failures, this.o.maxBackoffMs);
      this.log().warn('sbatch failed; will retry', { error, jobs: batch.length, retryInMs: this.backoffUntil - Date.now() });
      return false;
    };
    let found: string | null = null;
    if (this.uncertain.has(name)) {
      const look = await this.findByName(name);
      if (look === undefined) return retryLater('squeue does not answer (looking for an earlier submission)');
      found = look;
      if (!look) this.uncertain.delete(name);
    }
    const r = found ? null : await this.cli.run('sbatch', [...args, script]);
    let id = found ?? (r!.ok ? parseJobId(r!.stdout) : null);
    if (r && !r.ok && !r.missing && (r.timedOut || TRANSIENT_SUBMIT.test(r.stderr))) {
      if (r.timedOut || /timed out|Zero Bytes/i.test(r.stderr)) this.uncertain.add(name);
      return retryLater(firstLine(r.stderr) || 'sbatch timed out');
    }
    this.uncertain.delete(name);
    if (!id) {
      this.refuse(batch, r!.ok ? `sbatch printed no job id: ${firstLine(r!.stdout)}` : `sbatch refused the job: ${firstLine(r!.stderr).replace(/^sbatch: error: /, '') || `exit ${r!.code}`}`);
      return true;
    }
    this.failures = 0; this.backoffUntil = 0; this.lastError = null;
    this.submittedJobs += batch.length;
    this.hooks.submitted(batch.length);
    const now = Date.now();
    batch.forEach((w, i) => {
      const h: SlurmHandle = {
        executor: this.o.name, dir: w.job.dir, commandCount: w.job.commandCount,
        slurmId: isArray ? `${id}_${i}` : id!, ...(isArray ? { arrayId: id!, task: i } : {}),
        restarts: 0, baseAttempt: w.job.attempt, name, submittedAt: now,
      };
      // beside the job, for a server that dies before it records the handle
      try { writeFileSync(join(w.job.dir, 'slurm.id'), JSON.stringify(h) + '\n', { mode: 0o600 }); } catch { /* the handle in the DB is enough */ }
      w.resolve(h);
    });
    this.log().info('submitted to Slurm', { slurmId: id, jobs: batch.length, array: isArray });
    return true;
  }

  /** After an ambiguous failure: did sbatch submit after all? The base job id, null (no), undefined (no answer). */
  private async findByName(name: string): Promise<string | null | undefined> {
    const r = await this.cli.run('squeue', ['--noheader', '--states=all', `--user=${this.o.user}`, `--name=${name}`, '--format=%F']);
    if (!r.ok) return undefined;
    return r.stdout.split('\n').map((l) => l.trim()).find((l) => /^\d+$/.test(l)) ?? null;
  }

  private refuse(batch: Waiting[], message: string): void {
    this.log().warn('Slurm refused the submission', { message, jobs: batch.length });
    for (const w of batch) {
      this.hooks.failed(w.job, message);
      w.resolve(this.placeholder(w.job));
    }
  }

  private placeholder(job: PreparedJob): SlurmHandle {
    return { executor: this.o.name, dir: job.dir, commandCount: job.commandCount, slurmId: null, restarts: 0, baseAttempt: job.attempt, name: '', submittedAt: Date.now() };
  }
}
