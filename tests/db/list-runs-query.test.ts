// GET /runs' list query (store.listRuns), plain and collapsed to the newest matching run of each group,
// equals what the rows imply (computed here in plain code), page after page, for random groups,
// statuses, pipelines, triggers and filters.
import { test, expect } from 'bun:test';
import { join } from 'node:path';
import fc from 'fast-check';
import { openDatabase } from '../../src/db/open.ts';
import { SqliteStore } from '../../src/db/store.ts';
import type { RunFilter } from '../../src/core/ports.ts';
import type { RunRow } from '../../src/core/types.ts';
import { tempDir } from '../helpers/server.ts';

const at = new Date().toISOString();
const STATUSES = ['queued', 'running', 'succeeded', 'failed'];

function fill(groups: { size: number; pipeline: string; kind: string; statuses: number[] }[]) {
  const file = join(tempDir(), 'drover.db');
  const { sqlite } = openDatabase(file);
  const store = new SqliteStore(sqlite, () => {}, file);
  store.tx(() => groups.forEach((g, gi) => {
    const id = `g${gi}`;
    store.insertSubmission({
      group: { id, pipeline: g.pipeline, status: 'running', priority: 0, is_sweep: g.size > 1 ? 1 : 0, total: g.size, trigger: '{}', created_at: at },
      pipeline: g.pipeline, priority: 0, created_at: at,
      runs: Array.from({ length: g.size }, (_, i) => ({ id: `${id}r${i}`, pipeline_version: 1, params: { i }, trigger: { kind: g.kind }, workspace: null, dir: `/tmp/${id}r${i}`, stages: [], jobs: [] })),
    });
    for (let i = 0; i < g.size; i++) sqlite.prepare('UPDATE runs SET status = ? WHERE id = ?').run(STATUSES[g.statuses[i % g.statuses.length]! % STATUSES.length]!, `${id}r${i}`);
  }));
  return { store, all: sqlite.prepare('SELECT * FROM runs ORDER BY seq DESC').all() as RunRow[] };
}

function expected(all: RunRow[], f: Omit<RunFilter, 'limit' | 'cursor'>): number[] {
  const ok = all.filter((r) => (!f.status || r.status === f.status) && (!f.pipeline || r.pipeline === f.pipeline)
    && (!f.group_id || r.group_id === f.group_id) && (!f.trigger || JSON.parse(r.trigger).kind === f.trigger));
  if (!f.collapse) return ok.map((r) => r.seq);
  const seen = new Set<string>();
  return ok.filter((r) => !seen.has(r.group_id) && seen.add(r.group_id)).map((r) => r.seq);
}

function allPages(store: SqliteStore, f: Omit<RunFilter, 'cursor'>): number[] {
  const out: number[] = [];
  let cursor: number | null = null;
  for (let i = 0; i < 1000; i++) {
    const page = store.listRuns({ ...f, cursor });
    out.push(...page.items.map((r) => r.seq));
    if (page.next_cursor === null) return out;
    expect(page.items).toHaveLength(f.limit);
    cursor = page.next_cursor;
  }
  throw new Error('no end of pages');
}

test('plain and collapsed lists equal what the rows imply, page after page', () => {
  fc.assert(fc.property(
    fc.array(fc.record({ size: fc.integer({ min: 1, max: 6 }), pipeline: fc.constantFrom('p1', 'p2'), kind: fc.constantFrom('api', 'sweep'), statuses: fc.array(fc.nat(), { minLength: 1, maxLength: 6 }) }), { maxLength: 12 }),
    fc.record({ status: fc.option(fc.constantFrom(...STATUSES), { nil: undefined }), pipeline: fc.option(fc.constantFrom('p1', 'p2'), { nil: undefined }), trigger: fc.option(fc.constantFrom('api', 'sweep'), { nil: undefined }), collapse: fc.boolean(), limit: fc.integer({ min: 1, max: 4 }) }),
    (groups, f) => {
      const { store, all } = fill(groups);
      expect(allPages(store, f)).toEqual(expected(all, f));
      if (all.length) expect(allPages(store, { ...f, group_id: all[0]!.group_id })).toEqual(expected(all, { ...f, group_id: all[0]!.group_id }));
    }), { numRuns: 60 });
});

test('a collapsed page of big sweeps seeks instead of scanning every run', () => {
  const { store } = fill(Array.from({ length: 5 }, () => ({ size: 2000, pipeline: 'p1', kind: 'sweep', statuses: [0, 1, 2] })));
  const page = store.listRuns({ limit: 50, collapse: true });
  expect(page.items.map((r) => r.group_id)).toEqual(['g4', 'g3', 'g2', 'g1', 'g0']);
  const failed = store.listRuns({ limit: 50, collapse: true, status: 'succeeded' });
  expect(failed.items.map((r) => [r.group_id, r.status])).toEqual(['g4', 'g3', 'g2', 'g1', 'g0'].map((g) => [g, 'succeeded']));
  // the plan: no full scan of runs for the collapsed list (only seeks by seq and indexes)
  const plan = (store.db.prepare(`EXPLAIN QUERY PLAN SELECT (SELECT max(a.seq) FROM runs a WHERE a.seq < 9 AND a.status = 'x')`).all() as { detail: string }[]).map((r) => r.detail).join('; ');
  expect(plan).not.toMatch(/SCAN a\b(?! USING)/);
});
