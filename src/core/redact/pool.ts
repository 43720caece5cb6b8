// The log gate between executors and the scheduler: one Copier per running attempt with secrets, and
// the rule that a job's end is applied only once its stored log is final. The engine offers every
// observation to pass(); an ended job with a copier is held while the copier drains (everything
// left in raw/ copied and redacted, raw/ and the secrets file removed, outputs redacted), then handed
// back with its log sizes as stored — so a job is never reported final (and the WebSocket never sends
// `eof`) before the last redacted byte is in logs/. Jobs without secrets pass at once (their runner
// writes logs/ directly); for them the log cap is applied here, by truncating with a marker line.
// Not here: copying (copier.ts), redaction (redactor.ts).
import { existsSync, openSync, closeSync, truncateSync, writeSync, lstatSync, rmSync, writeFileSync, renameSync, constants } from 'node:fs';
import { readInJob } from '../../runner/safe-open.ts';
import { join } from 'node:path';
import { Copier, capMarker } from './copier.ts';
import { jobSecrets } from '../scheduler/prepare.ts';
import type { Logger, Observation, PreparedJob, JobResult } from '../ports.ts';
import type { SecretsView } from '../secrets/types.ts';
import type { Engine } from '../scheduler/engine.ts';

/** What the engine asks of the log side (core/scheduler/engine.ts). */
export interface LogGate {
  /** a job started (after its commit); jobs with secrets get a copier */
  started(job: PreparedJob): void;
  /** true: apply the observation now; false: it is held and `resume(o)` comes once the logs are final */
  pass(o: Observation, resume: (o: Observation) => void): boolean;
  /** the job left `running` without its end passing here (backstop): copy what is left, remove raw/ and the secrets file
   *  (`attempt` absent: every attempt of the job) */
  finish?(jobId: string, attempt?: number): void;
  /** copy again what a job left in raw/ (after a restart, or when the reaper finalizes it afresh) */
  resume?(jobs: ResumeJob[]): void;
}

/** A job whose copy resumes; `attempt` keys its copier (absent: the job's current attempt, as running). */
export interface ResumeJob { jobId: string; attempt?: number; dir: string; commandCount: number; secretNames: string[] }

/** Copiers are keyed by job AND attempt: a late end of attempt N must never drain attempt N+1's copier. */
const keyOf = (jobId: string, attempt: number | undefined) => `${jobId}#${attempt ?? '?'}`;

export interface PoolOptions {
  secrets: SecretsView;
  maxLogSize: number | null;
  /** the job folder of a job (for the cap on jobs without secrets); null when unknown */
  dirOf(jobId: string): string | null;
  log?: Logger;
  fallbackMs?: number;
}

export class CopierPool implements LogGate {
  private copiers = new Map<string, Copier>();
  /** jobs whose copier is draining (a second copier on the same files would duplicate the log) */
  private draining = new Set<string>();
  private released = new WeakSet<Observation>();

  constructor(private readonly o: PoolOptions) {}

  get active(): number { return this.copiers.size; }

  /** After a restart, before the engine's first tick: resume the copiers of running jobs with secrets. */
  resumeRunning(eng: Engine): void {
    const jobs = eng.store.jobsWithStatus('running').filter((j) => !j.lease_token).flatMap((j) => {
      try {
        const spec = eng.specOfRun(j.run_id);
        return spec.secrets.length ? [{ jobId: j.id, attempt: j.attempt, dir: eng.jobDir(j), commandCount: eng.commandCount(j), secretNames: spec.secrets }] : [];
      } catch { return []; } // its run or spec is gone
    });
    this.resume(jobs);
  }

  resume(jobs: ResumeJob[]): void {
    for (const j of jobs) {
      const key = keyOf(j.jobId, j.attempt);
      if (this.copiers.has(key) || this.draining.has(key) || !existsSync(join(j.dir, 'raw'))) continue;
      // the values the job started with (a secret rotated since is still in its output), plus today's
      const started = startedWith(this.o.secrets, j.dir, this.o.log);
      this.add(key, j.dir, j.commandCount, started ?? this.o.secrets.values(j.secretNames));
    }
  }

  started(job: PreparedJob): void {
    if (!job.rawLogs) return;
    const values = jobSecrets(job) ?? {};
    keepSealed(this.o.secrets, job.dir, values, this.o.log);
    this.add(keyOf(job.id, job.attempt), job.dir, job.commandCount, values);
  }

  private add(key: string, dir: string, commandCount: number, values: Record<string, string>): void {
    this.copiers.get(key)?.stop();
    const copier = new Copier({ dir, commandCount, redactor: this.o.secrets.redactor(values), maxLogSize: this.o.maxLogSize, fallbackMs: this.o.fallbackMs, log: this.o.log });
    this.copiers.set(key, copier.start());
  }

  /** The copier of this attempt (or one resumed without knowing its attempt). */
  private find(jobId: string, attempt: number): [string, Copier] | null {
    for (const key of [keyOf(jobId, attempt), keyOf(jobId, undefined)]) {
      const c = this.copiers.get(key);
      if (c) return [key, c];
    }
    return null;
  }

  pass(o: Observation, resume: (o: Observation) => void): boolean {
    if (this.released.has(o)) return true; // drained already (and maybe offered again after a failed tick)
    if (o.state === 'running') return true;
    const result = o.result;
    const found = this.find(o.jobId, o.attempt);
    if (!found) {
      if (result && this.o.maxLogSize !== null) this.capDirect(o.jobId, result);
      return true;
    }
    const [key, copier] = found;
    this.drainAway(key, copier).then(
      () => this.afterDrain(o, copier),
      (err) => this.o.log?.error('log copier failed to drain; the job ends with what was copied', { jobId: o.jobId, err: String(err) }),
    ).finally(() => { this.released.add(o); resume(o); });
    return false;
  }

  finish(jobId: string, attempt?: number): void {
    for (const [key, copier] of [...this.copiers]) {
      if (attempt === undefined ? !key.startsWith(`${jobId}#`) : key !== keyOf(jobId, attempt) && key !== keyOf(jobId, undefined)) continue;
      this.drainAway(key, copier).catch((err) => this.o.log?.warn('log copier failed to drain', { jobId, err: String(err) }));
    }
  }

  /** The copier leaves the pool and drains (copies what is left, removes raw/ and the secrets file). */
  private drainAway(key: string, copier: Copier): Promise<void> {
    this.copiers.delete(key);
    this.draining.add(key);
    return copier.drain().finally(() => this.draining.delete(key));
  }

  /** Stop every copier (server shutdown): their progress files let the next server resume. */
  stop(): void {
    for (const c of this.copiers.values()) c.stop();
    this.copiers.clear();
  }

  private afterDrain(o: Observation, copier: Copier): void {
    const result = o.state === 'running' ? undefined : o.result;
    if (!result) return;
    const dir = copier.dir;
    result.commands.forEach((c, i) => { c.log_size = sizeOf(join(dir, 'logs', `${i}.log`)); });
    if (copier.unsafe.length) result.unsafe = [...(result.unsafe ?? []), ...copier.unsafe];
    const r = copier.redactor;
    for (const k of Object.keys(result.outputs)) result.outputs[k] = r.redactString(result.outputs[k]!);
  }

  /** Jobs without secrets: past the cap, the whole-job log is cut there, with one marker line. */
  private capDirect(jobId: string, result: JobResult): void {
    const max = this.o.maxLogSize!;
    let total = 0;
    for (const c of result.commands) total += c.log_size;
    if (total <= max) return;
    const dir = this.o.dirOf(jobId);
    if (!dir) return;
    try {
      const sizes = capLogs(dir, result.commands.map((c) => c.log_size), max);
      result.commands.forEach((c, i) => { c.log_size = sizes[i]!; });
    } catch (err) {
      this.o.log?.warn('could not apply the log cap', { jobId, err: String(err) });
    }
  }
}

/** secrets.sealed: the values a job started with, encrypted under the secrets key, kept in its folder
 *  until its log is final (copier.drain removes it), so a copier resumed after a restart or a takeover
 *  still redacts a value rotated away while the job ran. */
export const SEALED_FILE = 'secrets.sealed';

function keepSealed(secrets: SecretsView, dir: string, values: Record<string, string>, log?: Logger): void {
  if (!secrets.seal || !Object.keys(values).length) return;
  try {
    const tmp = join(dir, `${SEALED_FILE}.tmp`);
    rmSync(tmp, { force: true });
    writeFileSync(tmp, secrets.seal(values), { mode: 0o600, flag: 'wx' });
    renameSync(tmp, join(dir, SEALED_FILE));
  } catch (err) {
    log?.warn('could not keep the job\'s secret values sealed beside it; a copier resumed later redacts with the current values only', { dir, err: String(err) });
  }
}

function startedWith(secrets: SecretsView, dir: string, log?: Logger): Record<string, string> | null {
  let text: string | null = null;
  try { text = readInJob(dir, SEALED_FILE); } catch (err) { log?.warn('ignored the sealed secrets file of a job', { dir, err: String(err) }); }
  if (text === null || !secrets.unseal) return null;
  const values = secrets.unseal(text);
  if (!values) log?.warn('the sealed secrets of a job do not open with secrets.key; redacting with the current values only', { dir });
  return values;
}

/** Cuts the job's logs (one after another) at `max` bytes in all, with one marker line; returns the new sizes. */
export function capLogs(dir: string, sizes: number[], max: number): number[] {
  let used = 0;
  let marked = false;
  return sizes.map((size, i) => {
    const path = join(dir, 'logs', `${i}.log`);
    if (!isRegular(path)) return 0; // a link the job left: never cut or written through (runner/meta.ts replaced it)
    if (marked) { if (size > 0) truncateSync(path, 0); return 0; }
    if (used + size <= max) { used += size; return size; }
    const keep = max - used;
    truncateSync(path, keep);
    const mark = capMarker(max);
    const fd = openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_NOFOLLOW);
    try { writeSync(fd, mark); } finally { closeSync(fd); }
    marked = true;
    return keep + mark.length;
  });
}

function sizeOf(path: string): number {
  try { const st = lstatSync(path); return st.isFile() ? st.size : 0; } catch { return 0; }
}

function isRegular(path: string): boolean {
  try { return lstatSync(path).isFile(); } catch { return false; }
}
