// The kept queued/running counts (db/job-counts.ts) equal a count of the jobs table after inserts,
// transitions, rolled-back transactions and savepoints, and are rebuilt from the table at open.
import { test, expect } from 'bun:test';
import { join } from 'node:path';
import fc from 'fast-check';
import { openDatabase } from '../../src/db/open.ts';
import { SqliteStore } from '../../src/db/store.ts';
import type { NewSubmission } from '../../src/core/types.ts';
import { tempDir } from '../helpers/server.ts';

const at = new Date().toISOString();
let n = 0;

function open(file = join(tempDir(), 'drover.db')) {
  const { sqlite } = openDatabase(file);
  return { store: new SqliteStore(sqlite, () => {}, file), sqlite, file };
}

/** One group of `runs` runs with one job each on `executor`. */
function submission(runs: number, executor: string): NewSubmission {
  const g = `g${++n}`;
  return {
    group: { id: g, pipeline: 'p', status: 'running', priority: 0, is_sweep: 1, total: runs, trigger: '{}', created_at: at },
    pipeline: 'p', priority: 0, created_at: at,
    runs: Array.from({ length: runs }, (_, i) => ({
      id: `${g}r${i}`, pipeline_version: 1, params: {}, trigger: { kind: 'api' }, workspace: null, dir: `/tmp/${g}r${i}`,
      stages: [{ id: `${g}s${i}`, idx: 0, name: 's', status: 'running', needs: [], merge: 'deep' }],
      jobs: [{ id: `${g}j${i}`, stage_id: `${g}s${i}`, stage_idx: 0, job_idx: 0, name: 'j', executor, status: 'queued', queued_at: at }],
    })),
  };
}

const audit = (store: SqliteStore) => store.jobCounts.audit(store.countJobs());

test('inserts and transitions move the counts; /queue-style snapshot per group and executor', () => {
  const { store } = open();
  store.tx(() => { store.insertSubmission(submission(3, 'local')); store.insertSubmission(submission(2, 'gpu')); });
  const [a, b] = [`g${n - 1}`, `g${n}`];
  expect(store.queueCounts().total).toEqual({ queued: 5, running: 0 });
  store.tx(() => store.transition('jobs', `${a}j0`, 'queued', 'running', {}, { at }));
  store.tx(() => store.transition('jobs', `${b}j1`, 'queued', 'canceled', {}, { at }));
  const c = store.queueCounts();
  expect(c.groups).toEqual([[a, { queued: 2, running: 1 }], [b, { queued: 1, running: 0 }]]);
  expect(new Map(c.executors)).toEqual(new Map([['local', { queued: 2, running: 1 }], ['gpu', { queued: 1, running: 0 }]]));
  store.tx(() => store.transition('jobs', `${a}j0`, 'running', 'succeeded', {}, { at }));
  expect(store.queueCounts().total).toEqual({ queued: 3, running: 0 });
  expect(audit(store)).toBeNull();
});

test('a rolled-back transaction and a rolled-back savepoint put the counts back', () => {
  const { store } = open();
  store.insertSubmission(submission(2, 'local')); // (outside a transaction: counted at once)
  const g = `g${n}`;
  expect(() => store.tx(() => {
    store.insertSubmission(submission(4, 'local'));
    store.transition('jobs', `${g}j0`, 'queued', 'running', {}, { at });
    throw new Error('roll back');
  })).toThrow('roll back');
  expect(store.queueCounts().total).toEqual({ queued: 2, running: 0 });
  store.tx(() => {
    store.transition('jobs', `${g}j0`, 'queued', 'running', {}, { at });
    try { store.tx(() => { store.transition('jobs', `${g}j1`, 'queued', 'running', {}, { at }); throw new Error('inner'); }); } catch { /* the savepoint only */ }
  });
  expect(store.queueCounts().groups).toEqual([[g, { queued: 1, running: 1 }]]);
  expect(audit(store)).toBeNull();
});

test('a lost race (the row is not in the expected status) moves nothing', () => {
  const { store } = open();
  store.insertSubmission(submission(1, 'local'));
  expect(store.tx(() => store.transition('jobs', `g${n}j0`, 'running', 'succeeded', {}, { at }))).toBe(false);
  expect(store.queueCounts().total).toEqual({ queued: 1, running: 0 });
});

test('rebuilt from the table at open, and audit names a difference', () => {
  const { store, sqlite, file } = open();
  store.insertSubmission(submission(3, 'slurm'));
  store.tx(() => store.transition('jobs', `g${n}j2`, 'queued', 'running', {}, { at }));
  const again = new SqliteStore(sqlite, () => {}, file);
  expect(again.queueCounts()).toEqual(store.queueCounts());
  sqlite.prepare(`UPDATE jobs SET status = 'failed' WHERE id = ?`).run(`g${n}j0`); // behind the writers' back
  expect(audit(store)).toContain(`group g${n}: kept 2 queued/1 running, table 1/1`);
});

test('random transitions, rollbacks and savepoints: the counts always equal the table', () => {
  const statuses = ['queued', 'running', 'succeeded', 'canceled'] as const;
  const { store, sqlite } = open();
  fc.assert(fc.property(fc.array(fc.record({
    kind: fc.constantFrom('insert', 'move', 'move', 'move'), executor: fc.constantFrom('local', 'gpu'), runs: fc.integer({ min: 1, max: 3 }),
    pick: fc.nat(), to: fc.constantFrom(...statuses), fail: fc.constantFrom('none', 'none', 'tx', 'savepoint'),
  }), { maxLength: 20 }), (steps) => {
    for (const s of steps) {
      const step = () => {
        if (s.kind === 'insert') { store.insertSubmission(submission(s.runs, s.executor)); return; }
        const live = sqlite.prepare(`SELECT id, status FROM jobs WHERE status IN ('queued', 'running') ORDER BY seq`).all() as { id: string; status: string }[];
        const j = live[s.pick % Math.max(1, live.length)];
        if (!j || j.status === s.to) return;
        if (j.status === 'queued' && s.to === 'succeeded') return; // (not an edge of the job machine)
        store.transition('jobs', j.id, j.status, s.to, {}, { at });
      };
      try {
        store.tx(() => {
          if (s.fail === 'savepoint') { try { store.tx(() => { step(); throw new Error('inner'); }); } catch { /* savepoint */ } return; }
          step();
          if (s.fail === 'tx') throw new Error('outer');
        });
      } catch (err) { if ((err as Error).message !== 'outer') throw err; }
      expect(audit(store)).toBeNull();
    }
  }), { numRuns: 100 });
});

test('runs per group and status: inserts, transitions, rollbacks and retention GC deletes keep them equal to the table', async () => {
  const { gcRepo } = await import('../../src/db/repos/gc.ts');
  const { store, sqlite } = open();
  const gc = gcRepo(sqlite, (group, status) => store.runDeleted(group, status));
  store.tx(() => store.insertSubmission(submission(3, 'local')));
  const g = `g${n}`;
  expect(store.groupRunCounts(g)).toEqual({ queued: 3 });
  store.tx(() => { store.transition('runs', `${g}r0`, 'queued', 'running', {}, { at }); store.transition('runs', `${g}r1`, 'queued', 'canceled', {}, { at }); });
  expect(() => store.tx(() => { store.transition('runs', `${g}r2`, 'queued', 'running', {}, { at }); throw new Error('roll back'); })).toThrow();
  expect(store.groupRunCounts(g)).toEqual({ queued: 1, running: 1, canceled: 1 });
  store.tx(() => store.transition('runs', `${g}r0`, 'running', 'succeeded', {}, { at }));
  const rows = sqlite.prepare(`SELECT id, group_id, pipeline, status, dir, created_at, ended_at FROM runs WHERE group_id = ?`).all(g) as never[];
  expect(() => store.tx(() => { gc.deleteRuns(rows); throw new Error('roll back'); })).toThrow();
  expect(store.groupRunCounts(g)).toEqual({ queued: 1, succeeded: 1, canceled: 1 });
  expect(store.tx(() => gc.deleteRuns(rows)).sort()).toEqual([`${g}r0`, `${g}r1`]); // (only ended runs go)
  expect(store.groupRunCounts(g)).toEqual({ queued: 1 });
  expect(store.runCounts.audit(store.countRuns())).toBeNull();
  sqlite.prepare(`UPDATE runs SET status = 'failed' WHERE id = ?`).run(`${g}r2`); // behind the writers' back
  expect(store.runCounts.audit(store.countRuns())).toContain(`runs of group ${g}`);
});
