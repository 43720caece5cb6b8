// An in-process engine on a real SQLite file, with fake executors (processes are the one thing it does
// not start) and a fake clock, driven tick by tick; plus the invariants the engine must hold after
// every tick. Used by the property test (tests/core/engine-harness.test.ts) and the defect tests.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { openDatabase } from '../../src/db/open.ts';
import { SqliteStore } from '../../src/db/store.ts';
import { Engine } from '../../src/core/scheduler/engine.ts';
import { Bus } from '../../src/core/events.ts';
import { AgentBroker } from '../../src/core/agents/broker.ts';
import { ENGINE_DEFAULTS, type EngineConfig } from '../../src/core/config.ts';
import { lostEnd } from '../../src/core/observations.ts';
import { explain } from '../../src/core/scheduler/explain.ts';
import * as control from '../../src/core/scheduler/control.ts';
import type { Executor, ExecutorContext, Handle, Logger, Observation, PreparedJob, Admission, Blocker } from '../../src/core/ports.ts';
import type { JobRow } from '../../src/core/types.ts';
import { tempDir } from './server.ts';

export const quietLog: Logger = { info() {}, warn() {}, error() {}, scope() { return quietLog; } };

export class FakeClock {
  t = Date.parse('2026-01-01T00:00:00Z');
  now(): number { return this.t; }
  advance(ms: number): void { this.t += ms; }
}

/** Runs nothing: remembers what it was asked to start; the test decides when (and how) each job ends. */
export class FakeExecutor implements Executor {
  readonly running = new Map<string, { attempt: number; handle: Handle }>();
  readonly holders = new Map<string, number>();
  readonly canceled: string[] = [];
  ownQueue?: boolean;
  private ctx?: ExecutorContext;
  admit?: Executor['admit'];
  release?: Executor['release'];
  readmit?: Executor['readmit'];
  explain?: Executor['explain'];

  constructor(readonly name: string, readonly slotCount: number, opts: { ownQueue?: boolean; devices?: number } = {}) {
    this.ownQueue = opts.ownQueue;
    if (opts.devices) {
      const devices = opts.devices;
      const free = () => devices - this.holders.size;
      this.admit = (req): Admission => {
        if (this.holders.has(req.jobId)) return { ok: true };
        if (free() <= 0) return { ok: false, blocker: { code: 'gpu_slots_full', message: 'every fake device is held' } };
        this.holders.set(req.jobId, this.holders.size);
        return { ok: true, device: { type: 'gpu', index: this.holders.get(req.jobId) } };
      };
      this.release = (jobId) => { this.holders.delete(jobId); };
      this.readmit = (jobId) => { this.holders.set(jobId, 0); };
      this.explain = (jobId, handle): Blocker[] => (handle || this.holders.has(jobId) || free() > 0 ? [] : [{ code: 'gpu_slots_full', message: 'every fake device is held' }]);
    }
  }

  init(ctx: ExecutorContext): void { this.ctx = ctx; }
  async detect() { return { available: true, slots: this.slotCount }; }
  async start(job: PreparedJob): Promise<Handle> {
    const handle = { executor: this.name, dir: job.dir, commandCount: job.commandCount };
    this.running.set(job.id, { attempt: job.attempt, handle });
    return handle;
  }
  async poll() { return []; }
  async cancel(handle: Handle): Promise<void> {
    const id = [...this.running].find(([, r]) => r.handle.dir === handle.dir)?.[0];
    if (id) this.canceled.push(id);
  }
  async adopt(jobId: string, attempt: number): Promise<Observation> {
    const r = this.running.get(jobId);
    return r && r.attempt === attempt ? { jobId, attempt, state: 'running' } : lostEnd(jobId, attempt, 'gone');
  }

  /** The job's process ends with `rc`: the engine hears of it as from a real executor. */
  finish(jobId: string, rc: number, at = new Date().toISOString()): boolean {
    const r = this.running.get(jobId);
    if (!r) return false;
    this.running.delete(jobId);
    this.ctx!.notify({ jobId, attempt: r.attempt, state: 'exited', result: { rc, commands: [{ exit_code: rc, started_at: at, ended_at: at, log_size: 0 }], outputs: {} } });
    return true;
  }
}

/** A store whose next call of `method` throws `error` once (an internal bug, or a full disk). */
export function armedStore(store: SqliteStore) {
  let armed: { method: string; error: Error; table?: string; skip: number; times: number } | null = null;
  const proxy = new Proxy(store, {
    get(target, prop, recv) {
      const v = Reflect.get(target, prop, recv);
      if (typeof v !== 'function' || !armed || prop !== armed.method) return typeof v === 'function' ? v.bind(target) : v;
      return (...args: unknown[]) => {
        if (armed && (!armed.table || args[0] === armed.table) && armed.skip-- <= 0) { const e = armed.error; if (--armed.times <= 0) armed = null; throw e; }
        return v.apply(target, args);
      };
    },
  });
  return {
    store: proxy,
    /** `skip`: let that many matching calls pass first (a fault late in a transaction); `times`: how many
     *  calls it fails (a real bug fails every try: the engine retries a tick once with a savepoint per row) */
    arm(method: string, kind: 'internal' | 'storage', table?: string, skip = 0, times = 1) {
      armed = { method, table, skip, times, error: kind === 'storage' ? Object.assign(new Error('SQLITE_FULL: database or disk is full'), { code: 'SQLITE_FULL' }) : new Error('injected bug') };
    },
    get armed() { return armed !== null; },
    disarm() { armed = null; },
    /** `fn` with the fault held back (the checks read through the same store) */
    suspended<T>(fn: () => T): T { const a = armed; armed = null; try { return fn(); } finally { armed = a; } },
  };
}

export interface Harness {
  engine: Engine; store: SqliteStore; armed: ReturnType<typeof armedStore>; clock: FakeClock; broker: AgentBroker;
  executors: Map<string, FakeExecutor>; config: EngineConfig; root: string;
  /** illegal transitions the store refused (each one is a bug) */
  illegal: string[];
  submit(spec: unknown, opts?: { params?: Record<string, unknown>; trigger?: Record<string, unknown> }): any;
  tick(): Promise<void>;
  restart(): Promise<void>;
  close(): void;
}

export async function makeHarness(o: { maxParallel?: number; executors?: FakeExecutor[] } = {}): Promise<Harness> {
  const root = tempDir('drover-harness-');
  const dataDir = join(root, 'data');
  mkdirSync(dataDir, { recursive: true });
  const { sqlite } = openDatabase(join(dataDir, 'drover.db'));
  const illegal: string[] = [];
  const raw = new SqliteStore(sqlite, (e) => illegal.push(e.message));
  const armed = armedStore(raw);
  const clock = new FakeClock();
  const list = o.executors ?? [new FakeExecutor('local', 4), new FakeExecutor('slurm', 2, { ownQueue: true }), new FakeExecutor('gpu', 4, { devices: 1 })];
  const executors = new Map(list.map((e) => [e.name, e]));
  const config: EngineConfig = {
    ...ENGINE_DEFAULTS, dataDir, runsDir: join(dataDir, 'runs'), workspaceRoot: root, maxParallel: o.maxParallel ?? 2,
    leaseGraceMs: 0, finalizeGraceMs: 30_000,
  };
  mkdirSync(config.runsDir, { recursive: true });
  const boot = async () => {
    const engine = new Engine({ store: armed.store as unknown as SqliteStore, executors: executors as Map<string, Executor>, clock, log: quietLog, bus: new Bus(quietLog), config });
    engine.stopped = true; // ticks are driven by the test, never by timers
    await engine.start();
    engine.stop();
    return engine;
  };
  const h: Harness = {
    engine: await boot(), store: raw, armed, clock, executors, config, root, illegal,
    broker: undefined as unknown as AgentBroker,
    submit(spec, opts = {}) {
      return control.submit(h.engine, { spec, params: opts.params, trigger: opts.trigger as never }).body;
    },
    async tick() {
      h.engine.tick();
      await Bun.sleep(0); // executor starts resolve; their handles are recorded by the next tick
    },
    async restart() {
      h.engine.stop();
      h.engine = await boot();
      h.broker = new AgentBroker(h.engine, { leaseTtlMs: config.leaseTtlMs });
    },
    close() { sqlite.close(); },
  };
  h.broker = new AgentBroker(h.engine, { leaseTtlMs: config.leaseTtlMs });
  return h;
}

const TERMINAL = new Set(['succeeded', 'failed', 'canceled']);

/** The group status the database alone implies (no memory of the process that ended it). */
export function derivedGroupStatus(store: SqliteStore, groupId: string): string {
  const g = store.getGroup(groupId)!;
  if (store.groupHasActiveRuns(groupId)) return g.status;
  const c = store.groupRunCounts(groupId);
  return g.cancel_requested || (c.canceled && !c.failed) ? 'canceled' : c.failed || c.canceled ? 'failed' : 'succeeded';
}

/**
 * What must hold after every tick. `quiet`: the tick committed (a rolled-back tick may leave startable
 * jobs for the next one). Returns the violations (empty: all hold).
 */
export function checkInvariants(h: Harness, opts: { quiet: boolean }): string[] {
  const { engine, store, config } = h;
  const bad: string[] = h.illegal.splice(0).map((m) => `illegal transition attempted: ${m}`);
  const running = store.jobsWithStatus('running');
  const local = new Set(running.filter((j) => !j.lease_token).map((j) => j.id));
  const ledger = new Set(engine.ledger.jobIds());
  for (const id of local) if (!ledger.has(id)) bad.push(`job ${id} runs (no lease) but holds no slot in the ledger`);
  for (const id of ledger) if (!local.has(id)) bad.push(`the ledger holds a slot for ${id}, which is not a running local job`);
  const audit = engine.ledger.audit();
  if (audit) bad.push(`ledger counts: ${audit}`);
  const counts = store.jobCounts.audit(store.countJobs());
  if (counts) bad.push(`kept job counts: ${counts}`);
  const runCounts = store.runCounts.audit(store.countRuns());
  if (runCounts) bad.push(`kept run counts: ${runCounts}`);
  const limitedRunning = running.filter((j) => !j.lease_token && engine.limited(j.executor)).length;
  if (limitedRunning > config.maxParallel) bad.push(`${limitedRunning} jobs count toward max_parallel ${config.maxParallel}`);
  for (const [name, ex] of h.executors) {
    const n = running.filter((j) => !j.lease_token && j.executor === name).length;
    if (n > ex.slotCount) bad.push(`executor ${name}: ${n} running > ${ex.slotCount} slots`);
    if (ex.admit && ex.holders.size > 1) bad.push(`executor ${name}: ${ex.holders.size} holders of 1 device`);
  }
  for (const r of store.listRuns({ limit: 10_000 }).items) {
    if (!TERMINAL.has(r.status) && existsSync(join(r.dir, 'result.json'))) bad.push(`run ${r.id} is ${r.status} but has a result.json`);
  }
  for (const g of store.listGroups({ limit: 10_000 }).items) {
    if (TERMINAL.has(g.status) && derivedGroupStatus(store, g.id) !== g.status) bad.push(`group ${g.id} is ${g.status}; the database implies ${derivedGroupStatus(store, g.id)}`);
  }
  if (opts.quiet) {
    for (const j of store.jobsWithStatus('queued')) {
      const why = explain(engine, j).reasons;
      if (why.length === 1 && why[0]!.code === 'waiting_for_turn') bad.push(`queued job ${j.id} (${j.executor}) did not start, yet why names no blocker`);
      if (j.executor === 'agent' && why.some((b) => b.code === 'executor_unavailable')) bad.push(`agent job ${j.id}: why says executor unavailable`);
    }
  }
  return bad;
}

/** Jobs that can be ended now, per fake executor (the property test picks among them). */
export function endable(h: Harness): { ex: FakeExecutor; jobId: string }[] {
  return [...h.executors.values()].flatMap((ex) => [...ex.running.keys()].map((jobId) => ({ ex, jobId })));
}

export type { JobRow };
