// Issue 19: a submission is written with multi-row INSERTs (CHUNK rows a statement). Around the chunk
// boundaries it must write exactly what one INSERT per row wrote (the old writer, kept here as the
// reference), and a bad row anywhere must leave nothing behind — not in this submission, not in the next.
import { test, expect } from 'bun:test';
import { join } from 'node:path';
import type { Database } from 'bun:sqlite';
import { openDatabase } from '../../src/db/open.ts';
import { SqliteStore } from '../../src/db/store.ts';
import { CHUNK, multiInsert } from '../../src/db/repos/multi-insert.ts';
import type { NewSubmission, NewRun } from '../../src/core/types.ts';
import { tempDir } from '../helpers/server.ts';

function rng(seed: number) {
  return () => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed / 2 ** 31; };
}

function open() {
  const file = join(tempDir(), 'drover.db');
  const { sqlite } = openDatabase(file);
  return { sqlite, store: new SqliteStore(sqlite, () => {}, file) };
}

let ids = 0;
/** `runs` runs, each of 1–3 stages of 0–(CHUNK+3) jobs; later stages need the first (pending jobs + blockers). */
function submission(runs: number, random: () => number): NewSubmission {
  const g = `g${++ids}`;
  const at = '2026-12-05T00:00:00.000Z';
  const out: NewRun[] = [];
  for (let r = 0; r < runs; r++) {
    const runId = `r${++ids}`;
    const stageCount = 1 + Math.floor(random() * 3);
    const stages = [...Array(stageCount).keys()].map((i) => ({ id: `s${++ids}`, idx: i, name: `st${i}`, status: 'pending', needs: i ? ['st0'] : [], merge: 'fail' }));
    const jobs = stages.flatMap((st) => [...Array(Math.floor(random() * (random() < 0.1 ? CHUNK + 4 : 4))).keys()].map((k) => ({
      id: `j${++ids}`, stage_id: st.id, stage_idx: st.idx, job_idx: k, name: `job${k}`, executor: 'local',
      status: st.needs.length ? 'pending' : 'queued', queued_at: st.needs.length ? null : at,
      matrix: random() < 0.2 ? { k, s: 'x' } : null, allow_failure: random() < 0.2,
    })));
    out.push({ id: runId, pipeline_version: 1, params: { r, q: 'it\'s' }, trigger: { kind: 'sweep', index: r }, workspace: random() < 0.5 ? null : '/w', dir: `/d/${runId}`, stages, jobs, folder_pending: random() < 0.3 });
  }
  return {
    group: { id: g, pipeline: 'p', status: 'running', priority: 3, is_sweep: 1, total: runs, trigger: '{"kind":"api"}', created_at: at },
    pipeline: 'p', priority: 3, created_at: at, runs: out,
  };
}

/** The writer before issue 19: one INSERT per row, parents first. */
function referenceWrite(db: Database, s: NewSubmission): void {
  const at = s.created_at;
  db.prepare('INSERT INTO groups (id, pipeline, status, priority, is_sweep, total, trigger, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)').run(s.group.id, s.group.pipeline, s.group.status, s.group.priority, s.group.is_sweep, s.group.total, s.group.trigger, s.group.created_at);
  const ev = db.prepare('INSERT INTO status_events (kind, entity_id, run_id, status, at) VALUES (?, ?, ?, ?, ?)');
  ev.run('group', s.group.id, null, 'running', at);
  for (const r of s.runs) {
    db.prepare(`INSERT INTO runs (id, group_id, pipeline, pipeline_version, status, priority, params, trigger, workspace, dir, created_at, folder_pending) VALUES (?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?)`).run(r.id, s.group.id, s.pipeline, r.pipeline_version, s.priority, JSON.stringify(r.params), JSON.stringify(r.trigger), r.workspace, r.dir, at, r.folder_pending ? 1 : 0);
    ev.run('run', r.id, r.id, 'queued', at);
    for (const st of r.stages) db.prepare('INSERT INTO stages (id, run_id, idx, name, status, needs, merge) VALUES (?, ?, ?, ?, ?, ?, ?)').run(st.id, r.id, st.idx, st.name, st.status, JSON.stringify(st.needs), st.merge);
    for (const j of r.jobs) {
      db.prepare('INSERT INTO jobs (id, run_id, stage_id, group_id, stage_idx, job_idx, name, executor, status, priority, created_at, queued_at, matrix, allow_failure) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').run(j.id, r.id, j.stage_id, s.group.id, j.stage_idx, j.job_idx, j.name, j.executor, j.status, s.priority, at, j.queued_at, j.matrix ? JSON.stringify(j.matrix) : null, j.allow_failure ? 1 : 0);
    }
    for (const j of r.jobs) {
      if (j.status !== 'pending') continue;
      const st = r.stages.find((x) => x.id === j.stage_id)!;
      db.prepare('INSERT INTO job_blockers (job_id, at, reasons) VALUES (?, ?, ?)').run(j.id, at, JSON.stringify([{ code: 'waiting_for_stage', message: `waiting for stage ${st.needs.map((n) => `'${n}'`).join(', ')}`, stages: st.needs }]));
    }
  }
}

const TABLES = {
  groups: 'SELECT * FROM groups ORDER BY seq',
  runs: 'SELECT * FROM runs ORDER BY seq',
  stages: 'SELECT * FROM stages ORDER BY run_id, idx',
  jobs: 'SELECT * FROM jobs ORDER BY seq',
  job_blockers: 'SELECT job_id, at, reasons FROM job_blockers ORDER BY id',
  status_events: 'SELECT kind, entity_id, run_id, status, at FROM status_events ORDER BY seq',
};
const dump = (db: Database) => Object.fromEntries(Object.entries(TABLES).map(([t, q]) => [t, db.query(q).all()]));
const count = (db: Database, t: string) => (db.query(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n;

test('random sizes around the chunk boundaries: the same rows, in the same order, as one INSERT per row', () => {
  const random = rng(19);
  const sizes = [0, 1, 2, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK - 1, 2 * CHUNK, 2 * CHUNK + 1, 3 * CHUNK + 7];
  for (let i = 0; i < 6; i++) sizes.push(1 + Math.floor(random() * 4 * CHUNK));
  const a = open(), b = open();
  let jobs = 0;
  for (const n of sizes) {
    const s = submission(n, random);
    jobs += s.runs.reduce((k, r) => k + r.jobs.length, 0);
    a.store.tx(() => a.store.insertSubmission(s));
    b.sqlite.transaction(() => referenceWrite(b.sqlite, s))();
  }
  expect(jobs).toBeGreaterThan(3 * CHUNK); // (the job chunks are crossed too)
  const got = dump(a.sqlite), want = dump(b.sqlite);
  for (const t of Object.keys(TABLES)) expect({ t, rows: got[t] }).toEqual({ t, rows: want[t] });
});

test('one job of many, in the third chunk, is bad: the whole submission rolls back, and the next one is whole', () => {
  const random = rng(7);
  const { sqlite, store } = open();
  const keep = submission(3, random);
  store.tx(() => store.insertSubmission(keep));
  const before = Object.fromEntries(Object.keys(TABLES).map((t) => [t, count(sqlite, t)]));
  // one run of 5 chunks of jobs; a job in the middle of the third chunk repeats an earlier job's id
  const bad = submission(1, random);
  const st = bad.runs[0]!.stages[0]!;
  bad.runs[0]!.jobs = [...Array(5 * CHUNK).keys()].map((k) => ({ id: `bad-j${k}`, stage_id: st.id, stage_idx: 0, job_idx: k, name: `job${k}`, executor: 'local', status: 'queued', queued_at: bad.created_at }));
  bad.runs[0]!.jobs[2 * CHUNK + 37]!.id = 'bad-j5';
  expect(() => store.tx(() => store.insertSubmission(bad))).toThrow();
  for (const t of Object.keys(TABLES)) expect({ t, n: count(sqlite, t) }).toEqual({ t, n: before[t]! });
  // a bad run in a later batch of runs (its stage repeats an id): nothing either
  const bad2 = submission(2 * CHUNK + 5, random);
  bad2.runs[CHUNK + 3]!.stages[0]!.id = bad2.runs[1]!.stages[0]!.id;
  expect(() => store.tx(() => store.insertSubmission(bad2))).toThrow();
  for (const t of Object.keys(TABLES)) expect({ t, n: count(sqlite, t) }).toEqual({ t, n: before[t]! });
  // the next submission writes its rows and no leftover of the failed ones
  const next = submission(CHUNK + 1, random);
  store.tx(() => store.insertSubmission(next));
  expect(count(sqlite, 'runs')).toBe(before.runs! + CHUNK + 1);
  expect(count(sqlite, 'jobs')).toBe(before.jobs! + next.runs.reduce((k, r) => k + r.jobs.length, 0));
  expect(sqlite.query(`SELECT count(*) AS n FROM jobs WHERE id LIKE 'bad-%'`).get()).toEqual({ n: 0 });
});

test('a row with the wrong number of values is refused before anything is bound', () => {
  const { sqlite } = open();
  const m = multiInsert(sqlite, 'groups', ['id', 'pipeline', 'status', 'trigger', 'created_at']);
  expect(() => m.add('g1', 'p', 'running')).toThrow(/3 values for 5 columns/);
  m.add('g1', 'p', 'running', '{}', 'x');
  m.flush();
  m.flush(); // (nothing more: no second row)
  expect(count(sqlite, 'groups')).toBe(1);
});
