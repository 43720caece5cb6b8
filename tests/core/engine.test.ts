// The engine in process (real SQLite file, fake executors and clock): the four defects of issue 12,
// each as the shortest schedule that showed it, then thousands of random schedules with the engine's
// invariants checked after every tick (tests/helpers/engine-harness.ts).
import { test, expect, describe, afterEach } from 'bun:test';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { makeHarness, checkInvariants, endable, FakeExecutor, type Harness } from '../helpers/engine-harness.ts';
import * as control from '../../src/core/scheduler/control.ts';
import { explain } from '../../src/core/scheduler/explain.ts';

let open: Harness[] = [];
afterEach(() => { for (const h of open) h.close(); open = []; });
async function harness(o: Parameters<typeof makeHarness>[0] = {}) { const h = await makeHarness(o); open.push(h); return h; }

const one = (name: string, executor = 'local', extra: Record<string, unknown> = {}) =>
  ({ name, ...extra, stages: [{ name: 's', jobs: [{ name: 'j', executor, commands: ['true'] }] }] });
const two = (name: string) => ({ name, stages: [{ name: 's', jobs: [{ name: 'a', commands: ['true'] }, { name: 'b', commands: ['true'] }] }] });

describe('issue 12 defects', () => {
  test('an internal error on a leased agent job does not free a local slot (max_parallel holds)', async () => {
    const h = await harness({ maxParallel: 1 });
    h.submit(one('remote', 'agent'));
    await h.tick();
    expect(await h.broker.claim({ agent: 'a1', executors: [] })).not.toBeNull();
    h.submit(two('locals'));
    await h.tick();
    expect(h.store.jobsWithStatus('running').filter((j) => j.executor === 'local')).toHaveLength(1);
    h.armed.arm('finishAttempt', 'internal', undefined, 0, 2); // the reaper's row for the expired lease trips a bug (in both tries of the tick)
    h.clock.advance(h.config.leaseTtlMs + 1000);
    await h.tick();
    expect(h.store.jobsWithStatus('failed').map((j) => j.reason)).toEqual(['internal']);
    expect(h.store.jobsWithStatus('running').filter((j) => j.executor === 'local')).toHaveLength(1);
    expect(checkInvariants(h, { quiet: true })).toEqual([]);
  });

  test('a completion that rolls back leaves no result.json and no ended run behind', async () => {
    const h = await harness();
    const { run } = h.submit(one('remote-done', 'agent'));
    await h.tick();
    const claim = (await h.broker.claim({ agent: 'a1', executors: [] }))!;
    h.armed.arm('transition', 'storage', 'groups'); // the group's roll-up fails: the whole completion rolls back
    expect(() => h.broker.complete(claim.job.id, { lease_token: claim.lease.token, commands: [{ exit_code: 0 }] })).toThrow();
    await h.tick();
    expect(h.store.getRun(run.id)!.status).toBe('running');
    expect(existsSync(join(run.dir, 'result.json'))).toBe(false);
    // the agent completes again: now it lands, once
    h.broker.complete(claim.job.id, { lease_token: claim.lease.token, commands: [{ exit_code: 0 }] });
    expect(h.store.getRun(run.id)!.status).toBe('succeeded');
    expect(existsSync(join(run.dir, 'result.json'))).toBe(true);
  });

  test('a group canceled before a restart still ends canceled after it', async () => {
    const h = await harness({ maxParallel: 2 });
    const { group } = h.submit({ ...one('sweep'), matrix: { x: [1, 2] } });
    await h.tick();
    await h.tick();
    const [a, b] = endable(h);
    a!.ex.finish(a!.jobId, 1); // one point fails
    await h.tick();
    control.cancelGroup(h.engine, group.id); // the other is still running: it gets a signal
    expect(h.store.getGroup(group.id)!.status).toBe('running');
    await h.restart();
    b!.ex.finish(b!.jobId, 143);
    await h.tick();
    expect(h.store.getGroup(group.id)!.status).toBe('canceled');
    expect(checkInvariants(h, { quiet: false })).toEqual([]);
  });

  test('why: an agent-only job is waiting for an agent, and a schedule overlap names the previous run', async () => {
    const h = await harness({ maxParallel: 2 });
    h.submit(one('remote-why', 'agent'));
    await h.tick();
    const agentJob = h.store.jobsWithStatus('queued')[0]!;
    const why = explain(h.engine, agentJob).reasons.map((r) => r.code);
    expect(why).toContain('agent_only');
    expect(why).not.toContain('executor_unavailable');

    const first = h.submit(one('nightly'), { trigger: { kind: 'schedule', fire_time: '2026-01-01T00:00:00Z' } }).run;
    await h.tick();
    expect(h.store.getRun(first.id)!.status).toBe('running');
    const second = h.submit(one('nightly'), { trigger: { kind: 'schedule', fire_time: '2026-01-01T01:00:00Z', after: first.id } }).run;
    await h.tick();
    const waiting = h.store.jobsOfRun(second.id)[0]!;
    expect(waiting.status).toBe('queued');
    const reasons = explain(h.engine, waiting).reasons;
    expect(reasons.map((r) => r.code)).toEqual(['previous_run']);
    expect(reasons[0]!.run).toBe(first.id);
  });
});

// ---- random schedules ----

const PIPELINES = [
  { name: 'p-dag', stages: [{ name: 'a', jobs: [{ name: 'j1', commands: ['true'] }, { name: 'j2', commands: ['true'] }, { name: 'j3', commands: ['true'] }] }, { name: 'b', needs: ['a'], jobs: [{ name: 'k', commands: ['true'] }] }] },
  { name: 'p-mixed', retries: { max: 1, backoff: '1s' }, stages: [{ name: 'a', jobs: [{ name: 'cpu', commands: ['true'] }, { name: 'hpc', executor: 'slurm', commands: ['true'] }] }, { name: 'b', needs: ['a'], jobs: [{ name: 'g', executor: 'gpu', resources: { gpus: 1 }, commands: ['true'] }] }] },
  { name: 'p-agent', retries: { max: 0, lost: 1 }, stages: [{ name: 'a', jobs: [{ name: 'r', executor: 'agent', commands: ['true'] }] }] },
  { name: 'p-sweep', matrix: { x: [1, 2] }, retries: { max: 1, backoff: '1s' }, stages: [{ name: 'a', jobs: [{ name: 'j', commands: ['true'] }, { name: 'g', executor: 'gpu', resources: { gpus: 1 }, commands: ['true'] }] }] },
  { name: 'p-conc', concurrency: 1, stages: [{ name: 'a', jobs: [{ name: 'j', commands: ['true'] }] }] },
];

type Op =
  | { t: 'submit'; p: number } | { t: 'end'; k: number; rc: number } | { t: 'claim' } | { t: 'complete'; k: number; rc: number }
  | { t: 'time'; ms: number } | { t: 'cancelRun' | 'cancelGroup' | 'pause' | 'resume' | 'retry'; k: number }
  | { t: 'fault'; method: string; kind: 'internal' | 'storage'; table?: string; skip: number; times: number } | { t: 'restart' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ t: fc.constant('submit' as const), p: fc.nat(PIPELINES.length - 1) }) },
  { weight: 6, arbitrary: fc.record({ t: fc.constant('end' as const), k: fc.nat(7), rc: fc.constantFrom(0, 0, 1) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('claim' as const) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('complete' as const), k: fc.nat(3), rc: fc.constantFrom(0, 1) }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('time' as const), ms: fc.constantFrom(300, 2_000, 40_000) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constantFrom('cancelRun' as const, 'cancelGroup' as const, 'pause' as const, 'resume' as const, 'retry' as const), k: fc.nat(7) }) },
  { weight: 4, arbitrary: fc.oneof(
    fc.record({ t: fc.constant('fault' as const), kind: fc.constantFrom('internal' as const, 'storage' as const), method: fc.constant('transition'), table: fc.constantFrom('jobs', 'stages', 'runs', 'groups'), skip: fc.nat(3), times: fc.integer({ min: 1, max: 3 }) }),
    fc.record({ t: fc.constant('fault' as const), kind: fc.constantFrom('internal' as const, 'storage' as const), method: fc.constantFrom('finishAttempt', 'insertAttempt', 'insertCommand', 'setJobFields', 'addBlockers'), skip: fc.nat(3), times: fc.integer({ min: 1, max: 3 }) }),
  ) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('restart' as const) }) },
);

const leases: { jobId: string; token: string }[] = [];

async function apply(h: Harness, op: Op): Promise<void> {
  const pick = <T>(xs: T[], k: number): T | undefined => (xs.length ? xs[k % xs.length] : undefined);
  const ignoreUserErrors = (fn: () => unknown) => { try { fn(); } catch (e) { if (!/conflict|not_found|only a|storage|injected bug/.test(String((e as { code?: string }).code ?? '') + String(e))) throw e; } };
  switch (op.t) {
    case 'submit': ignoreUserErrors(() => h.submit(PIPELINES[op.p])); break;
    case 'end': { const e = pick(endable(h), op.k); e?.ex.finish(e.jobId, op.rc); break; }
    case 'claim': { const c = await h.broker.claim({ agent: 'a', executors: [] }).catch(() => null); if (c) leases.push({ jobId: c.job.id, token: c.lease.token }); break; }
    case 'complete': {
      const l = pick(leases, op.k);
      if (l) { try { h.broker.complete(l.jobId, { lease_token: l.token, commands: [{ exit_code: op.rc }] }); leases.splice(leases.indexOf(l), 1); } catch { /* lease lost, or a fault */ } }
      break;
    }
    case 'time': h.clock.advance(op.ms); break;
    case 'cancelRun': { const r = pick(h.store.listRuns({ limit: 100 }).items, op.k); if (r) ignoreUserErrors(() => control.cancelRun(h.engine, r.id)); break; }
    case 'retry': { const r = pick(h.store.listRuns({ limit: 100 }).items, op.k); if (r) ignoreUserErrors(() => control.retryRun(h.engine, r.id)); break; }
    case 'cancelGroup': case 'pause': case 'resume': {
      const g = pick(h.store.listGroups({ limit: 100 }).items, op.k);
      const fn = { cancelGroup: control.cancelGroup, pause: control.pauseGroup, resume: control.resumeGroup }[op.t];
      if (g) ignoreUserErrors(() => fn(h.engine, g.id));
      break;
    }
    case 'fault': h.armed.arm(op.method, op.kind, op.table, op.skip, op.times); break;
    case 'restart': await h.restart(); break;
  }
}

describe('random schedules keep the engine invariants after every tick', () => {
  const runs = Number(process.env.DROVER_ENGINE_RUNS ?? 1000);
  // a failure prints its seed and path: DROVER_ENGINE_SEED=… DROVER_ENGINE_PATH=… replays exactly that schedule
  const replay = process.env.DROVER_ENGINE_SEED ? { seed: Number(process.env.DROVER_ENGINE_SEED), path: process.env.DROVER_ENGINE_PATH, endOnFailure: true } : {};
  test(`${runs} schedules of up to 40 steps`, async () => {
    let schedules = 0, ticks = 0;
    await fc.assert(fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 40, size: 'max' }), fc.integer({ min: 1, max: 3 }), async (ops, maxParallel) => {
      schedules++;
      leases.length = 0;
      const h = await makeHarness({ maxParallel, executors: [new FakeExecutor('local', 3), new FakeExecutor('slurm', 2, { ownQueue: true }), new FakeExecutor('gpu', 4, { devices: 1 })] });
      try {
        for (const op of ops) {
          await apply(h, op);
          await h.tick();
          ticks++;
          const quiet = h.engine.storageError === null && h.engine.lastTickPeriodic;
          const bad = h.armed.suspended(() => checkInvariants(h, { quiet })); // (a fault not yet hit stays armed)
          if (bad.length) throw new Error(`after ${JSON.stringify(op)}:\n  ${bad.join('\n  ')}`);
        }
      } finally { h.close(); }
    }), { numRuns: runs, ...replay });
    console.log(`[engine harness] ${schedules} schedules, ${ticks} ticks checked`);
    expect(schedules).toBeGreaterThanOrEqual(process.env.DROVER_ENGINE_SEED ? 1 : runs); // (a replay runs its one path)
  }, 600_000);
});
