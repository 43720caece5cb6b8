// The allocation manager: every pass (a few seconds, and when asked) it
//   observe()   one batch-system query for every live allocation: pending → running → ended, token
//               revoked at the end; a running allocation whose agent never claimed within the
//               connect limit is failed and canceled; a `submitting` row (a crash mid-sbatch) is
//               found again by its job name, never submitted twice
//   serve(q)    per queue: draining queues cancel their pending allocations and are removed once
//               nothing is alive; active ones count the queued jobs of their pool that fit
//               (sizing.ts), submit what is missing, and back off / pause on failed submissions.
// Allocations are re-adopted after a restart simply because they are rows with Slurm ids: the next
// pass observes them. Jobs inside an allocation are ordinary agent jobs (leases, retries, fencing).
// Not here: the Slurm commands (plugins/slurm/alloc-backend.ts), the rows' SQL (db/repos/alloc.ts).
import { mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { newId, isoNow } from '../ids.ts';
import { DroverError } from '../errors.ts';
import type { Engine } from '../scheduler/engine.ts';
import type { Blocker, Logger } from '../ports.ts';
import type { JobRow } from '../types.ts';
import type { AllocBackend, AllocQueueRow, AllocStore, AllocTokens, AllocationRow } from './types.ts';
import { allocScript, jobName } from './script.ts';
import { allocBlocker, jobCpus, misfit, toSubmit } from './sizing.ts';
import { prepareQueue, type NewQueue } from './add.ts';
import { queueView, queueLog } from './view.ts';
import { allocMetrics } from './metrics.ts';

export interface AllocManagerOptions {
  engine: Engine; store: AllocStore; backend: AllocBackend; tokens: AllocTokens; log: Logger;
  /** <data-dir>/alloc: one folder per allocation (script, token file, Slurm output, agent work dir) */
  dir: string;
  /** the URL agents reach the server at (serve --advertise-url; known once the server listens) */
  serverUrl: () => string;
  /** argv that runs this drover */
  self: string[];
  passIntervalMs?: number;
  /** a running allocation whose agent has not claimed within this is failed and canceled */
  connectTimeoutMs?: number;
  /** waits after the 1st, 2nd, … failed submission in a row (the last repeats) */
  backoffMs?: number[];
  /** failed submissions in a row that pause the queue */
  pauseAfter?: number;
  /** a `submitting` row not found in the batch system after this is failed (its sbatch never went through) */
  submitGraceMs?: number;
}

export const DEFAULT_BACKOFF_MS = [0, 60_000, 300_000, 900_000];
/** queued jobs read per pass to size the queues */
const DEMAND_WINDOW = 5000;

export class AllocManager {
  private timer: ReturnType<typeof setInterval> | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  /** allocations whose sbatch is in flight in this process (observe leaves them alone) */
  private submitting = new Set<string>();
  private readonly o: Required<AllocManagerOptions>;
  get store(): AllocStore { return this.o.store; }

  constructor(o: AllocManagerOptions) {
    this.o = { passIntervalMs: 2000, connectTimeoutMs: 120_000, backoffMs: DEFAULT_BACKOFF_MS, pauseAfter: 5, submitGraceMs: 120_000, ...o };
    // `why` of a queued agent job: the same rule the sizing uses
    o.engine.blockers.sources.push((job) => this.blockerOf(job));
  }

  start(): void {
    this.timer = setInterval(() => void this.kick(), this.o.passIntervalMs);
    void this.kick();
  }

  stop(): void { if (this.timer) clearInterval(this.timer); this.timer = null; }

  /** Run a pass now (or right after the one in progress). */
  kick(): Promise<void> {
    if (this.running) { this.again = true; return this.running; }
    this.running = (async () => {
      try {
        do { this.again = false; await this.pass(); } while (this.again);
      } catch (err) {
        this.o.log.error('allocation pass failed', { err: String(err), stack: (err as Error).stack });
      } finally { this.running = null; }
    })();
    return this.running;
  }

  /** An agent's claim handed out jobs: an allocation's agent is named alloc-<allocation id>[-node]. */
  claimed(agent: string, jobs: number): void {
    const m = /^alloc-(a_[0-9a-z]+)/.exec(agent);
    if (!m) return;
    const id = m[1]!;
    this.o.engine.transact(() => {
      const a = this.o.store.allocation(id);
      if (!a) return;
      this.o.store.addJobsRun(id, jobs);
      if (!a.connected_at) this.o.store.patchAllocation(id, { connected_at: isoNow(this.o.engine.clock.now()) });
    });
  }

  private blockerOf(job: JobRow): Blocker[] {
    if (job.executor !== 'agent') return [];
    const b = allocBlocker(this.o.store.queues(), this.o.engine.catalog.jobSpecOf(job), this.o.store.alive(), this.o.engine.clock.now());
    return b ? [b] : [];
  }

  async pass(): Promise<void> {
    await this.observe();
    for (const q of this.o.store.queues()) {
      try { await this.serve(q); } catch (err) { this.o.log.error('allocation queue pass failed', { queue: q.name, err: String(err) }); }
    }
  }

  private async observe(): Promise<void> {
    const alive = this.o.store.alive().filter((a) => !this.submitting.has(a.id));
    if (!alive.length) return;
    const seen = await this.o.backend.observe(alive.map(jobName));
    if (!seen) return; // the batch system did not answer: nothing is concluded from silence
    const now = this.o.engine.clock.now();
    const at = isoNow(now);
    for (const a of alive) {
      const o = seen.get(jobName(a));
      if (!o) {
        if (a.status === 'submitting') {
          if (now - Date.parse(a.created_at) > this.o.submitGraceMs) this.end(a, 'failed', 'submit_unknown', 'sbatch gave no answer and Slurm has no job of this name', at);
        } else this.end(a, 'ended', 'gone', `Slurm job ${a.slurm_id} left the queue`, at);
        continue;
      }
      if (o.phase === 'ended') {
        this.end(a, a.reason === 'canceled_by_drover' ? 'canceled' : 'ended', `slurm:${o.state}`, `Slurm job ${o.slurmId} ended: ${o.state}${o.reason && o.reason !== 'None' ? ` (${o.reason})` : ''}`, at, o.state);
        continue;
      }
      if (a.status === 'submitting') this.o.engine.transact(() => this.o.store.transitionAllocation(a.id, 'submitting', 'pending', { slurm_id: o.slurmId, slurm_state: o.state }));
      if (o.phase === 'running' && a.status !== 'running') {
        this.o.engine.transact(() => this.o.store.transitionAllocation(a.id, a.status === 'submitting' ? 'pending' : a.status, 'running', { slurm_id: o.slurmId, slurm_state: o.state, node: o.node, started_at: at }));
        continue;
      }
      if (o.state !== a.slurm_state || (o.node && o.node !== a.node)) this.o.engine.transact(() => this.o.store.patchAllocation(a.id, { slurm_state: o.state, node: o.node || a.node }));
      if (a.status === 'running' && !a.connected_at && a.started_at && now - Date.parse(a.started_at) > this.o.connectTimeoutMs) {
        this.o.log.warn('an allocation\'s agent never connected; canceling it', { allocation: a.id, slurm_id: a.slurm_id });
        await this.o.backend.cancel(a.slurm_id!);
        this.end(a, 'failed', 'agent_never_connected', `its agent did not claim within ${Math.round(this.o.connectTimeoutMs / 1000)} s of the allocation's start (can compute nodes reach ${this.o.serverUrl()}? see \`drover alloc log\`)`, at);
        const q = this.o.store.queue(a.queue_id);
        if (q) this.failed(q, `allocation ${a.id}: agent never connected`, now);
      }
    }
  }

  /** An allocation is over: its state, and its token revoked (the API refuses it from now on). */
  private end(a: AllocationRow, to: 'ended' | 'failed' | 'canceled', reason: string, message: string, at: string, state?: string): void {
    this.o.engine.transact(() => {
      if (!this.o.store.transitionAllocation(a.id, a.status, to, { reason, message, ended_at: at, ...(state ? { slurm_state: state } : {}) })) return;
      if (a.token_id) this.o.tokens.revoke(a.token_id);
    });
    for (const f of ['token', 'work']) rmSync(join(a.dir, f), { recursive: true, force: true }); // alloc.sh and slurm.out stay for `alloc log`
    this.o.log.info('allocation ended', { allocation: a.id, slurm_id: a.slurm_id, status: to, reason });
  }

  private async serve(q: AllocQueueRow): Promise<void> {
    const alive = this.o.store.alive().filter((a) => a.queue_id === q.id);
    if (q.status === 'draining') {
      for (const a of alive) {
        if (a.status !== 'pending' || a.reason === 'canceled_by_drover' || !a.slurm_id) continue;
        this.o.engine.transact(() => this.o.store.patchAllocation(a.id, { reason: 'canceled_by_drover' }));
        await this.o.backend.cancel(a.slurm_id);
      }
      if (!alive.length) this.o.engine.transact(() => this.o.store.transitionQueue(q.id, 'draining', 'removed', { updated_at: isoNow() }));
      return;
    }
    if (q.status !== 'active') return;
    const now = this.o.engine.clock.now();
    const fitting = this.demand(q, now);
    if (q.backoff_until !== null && now < q.backoff_until) return;
    const n = toSubmit(q, alive, fitting);
    for (let i = 0; i < n; i++) if (!(await this.submit(q))) break;
  }

  /** The CPUs asked by the queued jobs of the queue's pool that an allocation of its shape can run; those that never can get their blocker noted. */
  private demand(q: AllocQueueRow, now: number): number {
    const eng = this.o.engine;
    let n = 0;
    const at = isoNow(now);
    const misfits: [JobRow, Blocker][] = [];
    for (const job of eng.store.queuedForAgent(['agent'], now, DEMAND_WINDOW)) {
      const spec = eng.catalog.jobSpecOf(job);
      if (spec.pool !== q.pool) continue;
      const b = misfit(q, spec);
      if (b) misfits.push([job, b]); else n += jobCpus(spec);
    }
    if (misfits.length) eng.transact(() => { for (const [job, b] of misfits) eng.blockers.note(job, at, b); });
    return n;
  }

  /** One sbatch; false when it failed (the queue backs off). */
  private async submit(q: AllocQueueRow): Promise<boolean> {
    const eng = this.o.engine;
    const id = newId('a');
    const dir = join(this.o.dir, id);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const tokenFile = join(dir, 'token');
    const script = allocScript({ queue: q, allocId: id, self: this.o.self, serverUrl: this.o.serverUrl(), tokenFile, workDir: join(dir, 'work') });
    const scriptPath = join(dir, 'alloc.sh');
    writeFileSync(scriptPath, script, { mode: 0o700 });
    const at = isoNow(eng.clock.now());
    let token: { id: string; token: string } | null = null;
    this.submitting.add(id);
    try {
      eng.transact(() => {
        token = this.o.tokens.create(`alloc-${id}`);
        this.o.store.insertAllocation({
          seq: 0, id, queue_id: q.id, status: 'submitting', slurm_id: null, slurm_state: null, node: null, reason: null, message: null,
          token_id: token.id, dir, script, jobs_run: 0, connected_at: null, created_at: at, started_at: null, ended_at: null,
        });
        this.o.store.patchQueue(q.id, { sbatch_calls: q.sbatch_calls + 1, updated_at: at });
        q.sbatch_calls++;
      });
      // the token only in a 0600 file: never in the script, argv or sbatch's environment
      writeFileSync(tokenFile, token!.token + '\n', { mode: 0o600 });
      const r = await this.o.backend.submit({ name: jobName({ id }), scriptPath, outputPath: join(dir, 'slurm.out'), timeMs: q.time_ms, nodes: q.nodes, args: JSON.parse(q.sbatch_args) });
      const now = eng.clock.now();
      if (r.ok) {
        eng.transact(() => {
          this.o.store.transitionAllocation(id, 'submitting', 'pending', { slurm_id: r.slurmId });
          this.o.store.patchQueue(q.id, { failures: 0, backoff_until: null, last_error: null, updated_at: isoNow(now) });
        });
        this.o.log.info('submitted an allocation', { queue: q.name, allocation: id, slurm_id: r.slurmId });
        return true;
      }
      if (r.unknown) { this.o.log.warn('sbatch gave no answer; the allocation is looked for by name', { allocation: id, error: r.error }); return false; }
      const a = this.o.store.allocation(id)!;
      this.end(a, 'failed', 'sbatch_failed', r.error, isoNow(now));
      this.failed(q, `sbatch failed: ${r.error}`, now);
      return false;
    } finally { this.submitting.delete(id); }
  }

  /** A failed submission (or an allocation whose agent never connected): back off; pause after too many in a row. */
  private failed(q: AllocQueueRow, error: string, now: number): void {
    const cur = this.o.store.queue(q.id);
    if (!cur) return;
    const failures = cur.failures + 1;
    const wait = this.o.backoffMs[Math.min(failures - 1, this.o.backoffMs.length - 1)] ?? 0;
    const at = isoNow(now);
    this.o.engine.transact(() => {
      this.o.store.patchQueue(q.id, { failures, last_error: error.slice(0, 2000), backoff_until: now + wait, updated_at: at });
      if (failures >= this.o.pauseAfter && cur.status === 'active') {
        this.o.store.transitionQueue(q.id, 'active', 'paused', { reason: `paused after ${failures} failed allocations in a row; last: ${error}`.slice(0, 2000), updated_at: at });
      }
    });
    this.o.log.warn('allocation queue: submission failed', { queue: q.name, failures, retry_in_ms: wait, error });
  }

  // ---- what the API asks ----

  /** A new queue: checked (add.ts), stored, and served at once. */
  async add(input: NewQueue) {
    const out = await prepareQueue(this.o.store, this.o.backend, this.o.serverUrl(), input);
    this.o.engine.transact(() => {
      if (this.o.store.queue(out.queue.name)) throw new DroverError('conflict', `an allocation queue named '${out.queue.name}' exists already`, { name: out.queue.name });
      this.o.store.insertQueue(out.queue);
    });
    this.o.log.info('allocation queue added', { queue: out.queue.name, pool: out.queue.pool });
    void this.kick();
    return { ...queueView(this.o.store, out.queue), warnings: out.warnings };
  }

  /** Pause / resume by hand; resume clears the failures and retries at once. */
  setPaused(ref: string, paused: boolean) {
    const q = this.mustQueue(ref);
    const at = isoNow(this.o.engine.clock.now());
    this.o.engine.transact(() => {
      if (paused && q.status === 'active') this.o.store.transitionQueue(q.id, 'active', 'paused', { reason: 'paused by hand', updated_at: at });
      else if (!paused && q.status === 'paused') this.o.store.transitionQueue(q.id, 'paused', 'active', { reason: null, failures: 0, backoff_until: null, updated_at: at });
      else if (!paused && q.status === 'active') this.o.store.patchQueue(q.id, { failures: 0, backoff_until: null, updated_at: at });
      else if (q.status === 'draining') throw new DroverError('conflict', `allocation queue '${q.name}' is being removed`);
    });
    void this.kick();
    return queueView(this.o.store, this.o.store.queue(q.id)!);
  }

  /** Drain: nothing new; pending allocations are canceled, running ones finish their jobs; removed once none is alive. */
  remove(ref: string) {
    const q = this.mustQueue(ref);
    if (q.status === 'active' || q.status === 'paused') {
      this.o.engine.transact(() => this.o.store.transitionQueue(q.id, q.status, 'draining', { reason: 'removed: draining', updated_at: isoNow() }));
    }
    void this.kick();
    return queueView(this.o.store, this.o.store.queue(q.id)!);
  }

  /** Every queue (not removed) with its latest `limit` allocations. */
  list(limit = 20) { return this.o.store.queues().map((q) => queueView(this.o.store, q, limit)); }
  view(ref: string, limit = 200) { return queueView(this.o.store, this.mustQueue(ref), limit); }
  log(ref: string) { return queueLog(this.o.store, this.mustQueue(ref)); }

  /** Prometheus lines (metrics.ts). */
  metricsLines(): string[] { return allocMetrics(this.o.store, this.o.backend); }

  mustQueue(ref: string): AllocQueueRow {
    const q = this.o.store.queue(ref);
    if (!q || q.status === 'removed') throw new DroverError('not_found', `no allocation queue '${ref}'`);
    return q;
  }
}
