// Issue 19: the groups with queued jobs (the ready set's rebuild, every periodic tick) come from the
// kept job counts instead of a scan of every queued job; they must be what the scan gives. (The rows
// are written behind the store's back here, so each round opens a new store: the counts are made at open.)
import { test, expect } from 'bun:test';
import { join } from 'node:path';
import { openDatabase } from '../../src/db/open.ts';
import { SqliteStore } from '../../src/db/store.ts';
import { tempDir } from '../helpers/server.ts';

const SCAN = `SELECT j.group_id AS id, max(j.priority) AS priority, g.status AS status FROM jobs j JOIN groups g ON g.id = j.group_id WHERE j.status = 'queued' GROUP BY j.group_id`;

test('random groups, statuses and priorities: the same groups, priorities and group statuses as a scan', () => {
  const file = join(tempDir(), 'drover.db');
  const { sqlite } = openDatabase(file);
  const open = () => new SqliteStore(sqlite, () => {}, file);
  let seed = 42;
  const random = () => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed / 2 ** 31; };
  const sort = (rows: { id: string }[]) => [...rows].sort((a, b) => a.id.localeCompare(b.id));
  expect(open().queuedGroups()).toEqual([]);
  for (let round = 0; round < 20; round++) {
    sqlite.exec('DELETE FROM jobs; DELETE FROM stages; DELETE FROM runs; DELETE FROM groups');
    const groups = Math.floor(random() * 12);
    for (let g = 0; g < groups; g++) {
      const priority = Math.floor(random() * 7) - 3; // (a job's priority is its group's: one submission writes both)
      sqlite.query(`INSERT INTO groups (id, pipeline, status, priority, trigger, created_at) VALUES (?, 'p', ?, ?, '{}', 'x')`).run(`g${g}`, random() < 0.3 ? 'paused' : 'running', priority);
      sqlite.query(`INSERT INTO runs (id, group_id, pipeline, pipeline_version, status, priority, params, trigger, dir, created_at) VALUES (?, ?, 'p', 1, 'queued', 0, '{}', '{}', '/d', 'x')`).run(`r${g}`, `g${g}`);
      sqlite.query(`INSERT INTO stages (id, run_id, idx, name, status, needs, merge) VALUES (?, ?, 0, 's', 'pending', '[]', 'fail')`).run(`s${g}`, `r${g}`);
      for (let j = Math.floor(random() * 30); j > 0; j--) {
        const status = ['queued', 'queued', 'pending', 'running', 'succeeded'][Math.floor(random() * 5)];
        sqlite.query(`INSERT INTO jobs (id, run_id, stage_id, group_id, stage_idx, job_idx, name, executor, status, priority, created_at) VALUES (?, ?, ?, ?, 0, ?, 'j', 'local', ?, ?, 'x')`)
          .run(`j${g}-${j}`, `r${g}`, `s${g}`, `g${g}`, j, status!, priority);
      }
    }
    expect(sort(open().queuedGroups())).toEqual(sort(sqlite.query(SCAN).all() as { id: string }[]));
  }
});
