// The state machines of src/core/states: every from×to pair of job, stage, run and group against
// the transition table, the documented edges (ARCHITECTURE.md and the module headers), terminal
// states, and the guarded, conditional writes of the store (illegal, stale `from`, stale `attempt`).
import { test, expect, describe, beforeEach, afterEach } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  jobMachine, stageMachine, runMachine, groupMachine,
  JOB_STATUSES, STAGE_STATUSES, RUN_STATUSES, GROUP_STATUSES,
  JOB_TRANSITIONS, STAGE_TRANSITIONS, RUN_TRANSITIONS, GROUP_TRANSITIONS,
} from '../../src/core/states/index.ts';
import { openDatabase } from '../../src/db/open.ts';
import { SqliteStore } from '../../src/db/store.ts';
import type { IllegalTransition } from '../../src/db/repos/transitions.ts';
import type { NewSubmission } from '../../src/core/types.ts';

type AnyMachine = {
  entity: string;
  statuses: readonly string[];
  table: Readonly<Record<string, readonly string[]>>;
  canTransition(from: string, to: string): boolean;
  isTerminal(s: string): boolean;
};

interface Case {
  name: string;
  machine: AnyMachine;
  statuses: readonly string[];
  table: Readonly<Record<string, readonly string[]>>;
  terminal: string[];
  /** terminal states that may be re-opened (retry), and to what */
  reopen: Record<string, string[]>;
  /** edges the docs require */
  required: [string, string][];
  /** edges the docs rule out (besides everything out of a closed terminal state) */
  forbidden: [string, string][];
}

const CASES: Case[] = [
  {
    name: 'job', machine: jobMachine as AnyMachine, statuses: JOB_STATUSES, table: JOB_TRANSITIONS,
    terminal: ['succeeded', 'failed', 'canceled', 'skipped'],
    reopen: { failed: ['pending', 'queued'], canceled: ['pending', 'queued'], skipped: ['pending', 'queued'] },
    required: [
      ['pending', 'queued'], ['pending', 'skipped'], ['pending', 'canceled'],
      ['queued', 'running'], ['queued', 'canceled'],
      ['running', 'succeeded'], ['running', 'failed'], ['running', 'canceled'],
      ['running', 'queued'], // lost lease / retry: attempt + 1
    ],
    forbidden: [
      ['pending', 'running'], ['pending', 'succeeded'], ['queued', 'succeeded'], ['queued', 'pending'],
      ['running', 'pending'], ['running', 'skipped'],
    ],
  },
  {
    name: 'stage', machine: stageMachine as AnyMachine, statuses: STAGE_STATUSES, table: STAGE_TRANSITIONS,
    terminal: ['succeeded', 'failed', 'canceled', 'skipped'],
    reopen: { failed: ['pending'], canceled: ['pending'], skipped: ['pending'] },
    required: [
      ['pending', 'running'], ['pending', 'skipped'],
      ['running', 'succeeded'], ['running', 'failed'], ['running', 'canceled'],
    ],
    forbidden: [['running', 'pending'], ['running', 'skipped']],
  },
  {
    name: 'run', machine: runMachine as AnyMachine, statuses: RUN_STATUSES, table: RUN_TRANSITIONS,
    terminal: ['succeeded', 'failed', 'canceled'],
    reopen: { failed: ['running'], canceled: ['running'] },
    required: [
      ['queued', 'running'], ['queued', 'canceled'],
      ['running', 'succeeded'], ['running', 'failed'], ['running', 'canceled'],
      ['failed', 'running'], ['canceled', 'running'],
    ],
    forbidden: [['running', 'queued'], ['failed', 'queued'], ['canceled', 'queued'], ['failed', 'succeeded'], ['canceled', 'failed']],
  },
  {
    name: 'group', machine: groupMachine as AnyMachine, statuses: GROUP_STATUSES, table: GROUP_TRANSITIONS,
    terminal: ['succeeded', 'failed', 'canceled'],
    reopen: { failed: ['running'], canceled: ['running'] },
    required: [
      ['running', 'paused'], ['paused', 'running'],
      ['running', 'succeeded'], ['running', 'failed'], ['running', 'canceled'],
      ['paused', 'canceled'],
      ['failed', 'running'], ['canceled', 'running'],
    ],
    forbidden: [['failed', 'paused'], ['canceled', 'paused'], ['failed', 'succeeded']],
  },
];

for (const c of CASES) {
  describe(`${c.name} state machine`, () => {
    test('the table has a row for every status and only names known statuses', () => {
      expect(Object.keys(c.table).sort()).toEqual([...c.statuses].sort());
      for (const [from, tos] of Object.entries(c.table)) {
        for (const to of tos) expect(c.statuses).toContain(to);
        expect(tos).not.toContain(from); // no self-loops: a write that changes nothing is not a transition
        expect(new Set(tos).size).toBe(tos.length);
      }
      expect(c.machine.statuses).toEqual(c.statuses);
      expect(c.machine.entity).toBe(c.name);
    });

    test('canTransition equals membership in the table, for every from×to pair', () => {
      let pairs = 0;
      for (const from of c.statuses) {
        for (const to of c.statuses) {
          const inTable = (c.table[from] ?? []).includes(to);
          if (c.machine.canTransition(from, to) !== inTable) {
            throw new Error(`${c.name}: canTransition(${from}, ${to}) is ${!inTable} but the table says ${inTable}`);
          }
          pairs++;
        }
      }
      expect(pairs).toBe(c.statuses.length ** 2);
    });

    test('unknown statuses are refused', () => {
      expect(c.machine.canTransition('bogus', c.statuses[0]!)).toBe(false);
      expect(c.machine.canTransition(c.statuses[0]!, 'bogus')).toBe(false);
    });

    test('the documented edges are allowed and the ruled-out ones refused', () => {
      for (const [from, to] of c.required) {
        if (!c.machine.canTransition(from, to)) throw new Error(`${c.name}: ${from} → ${to} should be allowed`);
      }
      for (const [from, to] of c.forbidden) {
        if (c.machine.canTransition(from, to)) throw new Error(`${c.name}: ${from} → ${to} should be refused`);
      }
    });

    test('terminal states accept nothing (except the documented retry re-open)', () => {
      for (const s of c.statuses) expect(c.machine.isTerminal(s)).toBe(c.terminal.includes(s));
      for (const from of c.terminal) {
        const allowed = c.statuses.filter((to) => c.machine.canTransition(from, to));
        expect(allowed).toEqual(c.reopen[from] ?? []);
      }
      // every non-terminal state can reach a terminal state
      for (const s of c.statuses.filter((x) => !c.terminal.includes(x))) {
        const seen = new Set<string>([s]);
        const todo = [s];
        while (todo.length) for (const n of c.table[todo.pop()!] ?? []) if (!seen.has(n)) { seen.add(n); todo.push(n); }
        expect(c.terminal.some((t) => seen.has(t))).toBe(true);
      }
    });
  });
}

describe('guarded writes through the store', () => {
  let dir: string;
  let sqlite: ReturnType<typeof openDatabase>['sqlite'];
  let store: SqliteStore;
  let illegal: IllegalTransition[];
  const at = '2025-01-01T00:00:00.000Z';
  const ids = { group: 'g_test1', run: 'r_test1', stage: 's_test1', stage2: 's_test2', job: 'j_test1', job2: 'j_test2' };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'drover-states-'));
    ({ sqlite } = openDatabase(join(dir, 'drover.db')));
    illegal = [];
    store = new SqliteStore(sqlite, (e) => illegal.push(e));
    const sub: NewSubmission = {
      group: { id: ids.group, pipeline: 'p', status: 'running', priority: 0, is_sweep: 0, total: 1, trigger: JSON.stringify({ kind: 'api' }), created_at: at },
      pipeline: 'p', priority: 0, created_at: at,
      runs: [{
        id: ids.run, pipeline_version: 1, params: {}, trigger: { kind: 'api' }, workspace: null, dir: join(dir, 'runs', ids.run),
        stages: [
          { id: ids.stage, idx: 0, name: 'build', status: 'pending', needs: [], merge: 'fail' },
          { id: ids.stage2, idx: 1, name: 'test', status: 'pending', needs: ['build'], merge: 'fail' },
        ],
        jobs: [
          { id: ids.job, stage_id: ids.stage, stage_idx: 0, job_idx: 0, name: 'compile', executor: 'local', status: 'queued', queued_at: at },
          { id: ids.job2, stage_id: ids.stage2, stage_idx: 1, job_idx: 0, name: 'check', executor: 'local', status: 'pending', queued_at: null },
        ],
      }],
    };
    store.insertSubmission(sub);
  });

  afterEach(() => {
    sqlite.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const eventCount = () => (sqlite.query('SELECT count(*) AS n FROM status_events').get() as { n: number }).n;

  test('the submission is stored as written', () => {
    expect(store.getGroup(ids.group)!.status).toBe('running');
    expect(store.getRun(ids.run)!.status).toBe('queued');
    expect(store.getStage(ids.stage)!.status).toBe('pending');
    expect(store.getJob(ids.job)!.status).toBe('queued');
    expect(store.getJob(ids.job)!.attempt).toBe(1);
    expect(store.getJob(ids.job2)!.status).toBe('pending');
  });

  test('legal transitions apply, carry their patch and add a status event', () => {
    const before = eventCount();
    expect(store.transition('jobs', ids.job, 'queued', 'running', { started_at: at }, { at, attempt: 1, runId: ids.run })).toBe(true);
    expect(store.transition('jobs', ids.job, 'running', 'succeeded', { ended_at: at, exit_code: 0 }, { at, attempt: 1, runId: ids.run })).toBe(true);
    const j = store.getJob(ids.job)!;
    expect(j.status).toBe('succeeded');
    expect(j.started_at).toBe(at);
    expect(j.exit_code).toBe(0);
    expect(eventCount()).toBe(before + 2);
    const evs = store.eventsSince(0, 1000).filter((e) => e.id === ids.job);
    expect(evs.map((e) => e.status)).toEqual(['running', 'succeeded']);
    expect(illegal).toEqual([]);
  });

  test('an illegal transition throws (a bug), calls onIllegal, and leaves the row unchanged', () => {
    expect(store.transition('jobs', ids.job, 'queued', 'running', {}, { at, attempt: 1 })).toBe(true);
    expect(store.transition('jobs', ids.job, 'running', 'succeeded', { exit_code: 0, ended_at: at }, { at, attempt: 1 })).toBe(true);
    const row = store.getJob(ids.job);
    const events = eventCount();

    expect(() => store.transition('jobs', ids.job, 'succeeded', 'running', { started_at: '2030-01-01T00:00:00.000Z', exit_code: 99 }, { at })).toThrow(/illegal transition succeeded → running/);
    expect(illegal).toHaveLength(1);
    expect(illegal[0]!.entity).toBe('job');
    expect(illegal[0]!.id).toBe(ids.job);
    expect(illegal[0]!.from).toBe('succeeded');
    expect(illegal[0]!.to).toBe('running');
    expect(store.getJob(ids.job)).toEqual(row);
    expect(eventCount()).toBe(events);
  });

  test('an illegal transition on a row in another state is refused too (the table is checked first)', () => {
    const row = store.getJob(ids.job); // queued
    expect(() => store.transition('jobs', ids.job, 'succeeded', 'running', {}, { at })).toThrow(/illegal/);
    expect(illegal).toHaveLength(1);
    expect(store.getJob(ids.job)).toEqual(row);
    // same for the other tables
    const stage = store.getStage(ids.stage);
    expect(() => store.transition('stages', ids.stage, 'skipped', 'running', {}, { at })).toThrow(/illegal/);
    expect(store.getStage(ids.stage)).toEqual(stage);
    const run = store.getRun(ids.run);
    expect(() => store.transition('runs', ids.run, 'succeeded', 'running', {}, { at })).toThrow(/illegal/);
    expect(store.getRun(ids.run)).toEqual(run);
    const group = store.getGroup(ids.group);
    expect(() => store.transition('groups', ids.group, 'succeeded', 'running', {}, { at })).toThrow(/illegal/);
    expect(store.getGroup(ids.group)).toEqual(group);
    expect(illegal.map((e) => e.entity)).toEqual(['job', 'stage', 'run', 'group']);
  });

  test('a conditional write with a stale `from` returns false and changes nothing', () => {
    expect(store.transition('jobs', ids.job, 'queued', 'running', {}, { at, attempt: 1 })).toBe(true);
    const row = store.getJob(ids.job);
    const events = eventCount();
    // legal per the table, but the row is no longer queued: a racing actor lost
    expect(store.transition('jobs', ids.job, 'queued', 'canceled', { reason: 'canceled' }, { at })).toBe(false);
    expect(store.transition('jobs', ids.job, 'queued', 'running', { started_at: 'later' }, { at, attempt: 1 })).toBe(false);
    expect(store.getJob(ids.job)).toEqual(row);
    expect(eventCount()).toBe(events);
    expect(illegal).toEqual([]); // a lost race is not an illegal transition
    // the pending job can't be moved as if it were queued either
    const pending = store.getJob(ids.job2);
    expect(store.transition('jobs', ids.job2, 'queued', 'running', {}, { at })).toBe(false);
    expect(store.getJob(ids.job2)).toEqual(pending);
    // stale from on a run
    const run = store.getRun(ids.run);
    expect(store.transition('runs', ids.run, 'running', 'succeeded', {}, { at })).toBe(false);
    expect(store.getRun(ids.run)).toEqual(run);
  });

  test('a conditional write with a stale `attempt` returns false and changes nothing', () => {
    expect(store.transition('jobs', ids.job, 'queued', 'running', {}, { at, attempt: 1 })).toBe(true);
    // retry: running → queued with attempt + 1
    expect(store.transition('jobs', ids.job, 'running', 'queued', { attempt: 2 }, { at, attempt: 1 })).toBe(true);
    expect(store.transition('jobs', ids.job, 'queued', 'running', {}, { at, attempt: 2 })).toBe(true);
    const row = store.getJob(ids.job)!;
    expect(row.attempt).toBe(2);
    const events = eventCount();
    // an observation of attempt 1 arrives late: it must not finish attempt 2
    expect(store.transition('jobs', ids.job, 'running', 'failed', { reason: 'exit_code', exit_code: 1 }, { at, attempt: 1 })).toBe(false);
    expect(store.getJob(ids.job)).toEqual(row);
    expect(eventCount()).toBe(events);
    expect(illegal).toEqual([]);
    // the current attempt wins
    expect(store.transition('jobs', ids.job, 'running', 'succeeded', { exit_code: 0 }, { at, attempt: 2 })).toBe(true);
    expect(store.getJob(ids.job)!.status).toBe('succeeded');
  });

  test('only one of two racing writers wins', () => {
    const a = store.transition('jobs', ids.job, 'queued', 'running', {}, { at, attempt: 1 });
    const b = store.transition('jobs', ids.job, 'queued', 'canceled', {}, { at, attempt: 1 });
    expect([a, b]).toEqual([true, false]);
    expect(store.getJob(ids.job)!.status).toBe('running');
  });
});
