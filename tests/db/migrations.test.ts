// Migrations: a fresh database gets every table, WAL mode and foreign keys; opening it again
// applies nothing twice and keeps the data.
import { test, expect, afterAll } from 'bun:test';
import { mkdtempSync, rmSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { getTableName, is } from 'drizzle-orm';
import { SQLiteTable, getTableConfig } from 'drizzle-orm/sqlite-core';
import { Database } from 'bun:sqlite';
import { openDatabase } from '../../src/db/open.ts';
import * as schema from '../../src/db/schema.ts';

const dirs: string[] = [];
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });
function freshFile(): string {
  const d = mkdtempSync(join(tmpdir(), 'drover-migrations-'));
  dirs.push(d);
  return join(d, 'drover.db');
}

const MIGRATIONS_DIR = resolve(import.meta.dir, '../../src/db/migrations');
const EXPECTED_TABLES = [
  'pipelines', 'groups', 'runs', 'stages', 'jobs', 'attempts', 'commands', 'status_events',
  'job_blockers', 'tokens', 'idempotency', 'daemon',
];

function tablesOf(sqlite: ReturnType<typeof openDatabase>['sqlite']): string[] {
  return (sqlite.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as { name: string }[]).map((r) => r.name);
}

function migrationFiles(): { version: number; tables: string[] }[] {
  return readdirSync(MIGRATIONS_DIR).filter((f) => f.endsWith('.sql')).sort().map((f) => ({
    version: Number(/^(\d+)/.exec(f)![1]),
    tables: [...readFileSync(join(MIGRATIONS_DIR, f), 'utf8').matchAll(/CREATE TABLE (?:IF NOT EXISTS )?"?(\w+)"?/gi)].map((m) => m[1]!),
  }));
}

test('a fresh database gets every table, WAL mode and foreign_keys = 1', () => {
  const { sqlite } = openDatabase(freshFile());
  try {
    const tables = tablesOf(sqlite);
    for (const t of EXPECTED_TABLES) expect(tables).toContain(t);
    // every table some migration creates, and every table of the drizzle schema, exists
    for (const m of migrationFiles()) for (const t of m.tables) expect(tables).toContain(t);
    const drizzleTables = Object.values(schema).filter((x) => is(x, SQLiteTable)).map((t) => getTableName(t as SQLiteTable));
    expect(drizzleTables.length).toBeGreaterThanOrEqual(EXPECTED_TABLES.length);
    for (const t of drizzleTables) expect(tables).toContain(t);
    expect(tables).toContain('schema_migrations');

    expect((sqlite.query('PRAGMA journal_mode').get() as { journal_mode: string }).journal_mode.toLowerCase()).toBe('wal');
    expect((sqlite.query('PRAGMA foreign_keys').get() as { foreign_keys: number }).foreign_keys).toBe(1);
    const busy = Object.values(sqlite.query('PRAGMA busy_timeout').get() as Record<string, number>)[0]!;
    expect(busy).toBeGreaterThan(0);
    // synchronous = NORMAL (1): durability against a power cut comes from the group-commit fsync barrier
    expect((sqlite.query('PRAGMA synchronous').get() as { synchronous: number }).synchronous).toBe(1);

    // foreign keys are enforced: a run for a group that does not exist is refused
    expect(() => sqlite.query(
      "INSERT INTO runs (id, group_id, pipeline, pipeline_version, status, params, trigger, dir, created_at) VALUES ('r_x', 'g_missing', 'p', 1, 'queued', '{}', '{}', '/tmp/x', 'now')",
    ).run()).toThrow(/FOREIGN KEY/i);
  } finally {
    sqlite.close();
  }
});

test('every migration is recorded once', () => {
  const { sqlite } = openDatabase(freshFile());
  try {
    const rows = sqlite.query('SELECT version, applied_at FROM schema_migrations ORDER BY version').all() as { version: number; applied_at: string }[];
    expect(rows.map((r) => r.version)).toEqual(migrationFiles().map((m) => m.version));
    for (const r of rows) expect(Number.isNaN(Date.parse(r.applied_at))).toBe(false);
  } finally {
    sqlite.close();
  }
});

test('opening twice applies the migrations once and keeps the data', () => {
  const file = freshFile();
  const first = openDatabase(file);
  const migrations1 = first.sqlite.query('SELECT version, applied_at FROM schema_migrations ORDER BY version').all();
  const schema1 = first.sqlite.query("SELECT type, name, sql FROM sqlite_master ORDER BY type, name").all();
  first.sqlite.query("INSERT INTO pipelines (name, version, spec, spec_hash, created_at) VALUES ('keep', 1, '{}', 'h', 'now')").run();
  first.sqlite.close();

  const second = openDatabase(file); // must not fail with "table already exists"
  try {
    const migrations2 = second.sqlite.query('SELECT version, applied_at FROM schema_migrations ORDER BY version').all();
    expect(migrations2).toEqual(migrations1);
    expect(second.sqlite.query("SELECT type, name, sql FROM sqlite_master ORDER BY type, name").all()).toEqual(schema1);
    expect((second.sqlite.query("SELECT count(*) AS n FROM pipelines WHERE name = 'keep'").get() as { n: number }).n).toBe(1);
    expect((second.sqlite.query('PRAGMA journal_mode').get() as { journal_mode: string }).journal_mode.toLowerCase()).toBe('wal');
    expect((second.sqlite.query('PRAGMA foreign_keys').get() as { foreign_keys: number }).foreign_keys).toBe(1);
  } finally {
    second.sqlite.close();
  }

  // and a third open while another connection is open is fine too
  const a = openDatabase(file);
  const b = openDatabase(file);
  try {
    expect((b.sqlite.query('SELECT count(*) AS n FROM schema_migrations').get() as { n: number }).n).toBe(migrationFiles().length);
  } finally {
    a.sqlite.close();
    b.sqlite.close();
  }
});

test('the migrations produce exactly the schema drizzle describes: columns, types, NOT NULL, primary keys', () => {
  const { sqlite } = openDatabase(freshFile());
  try {
    const problems: string[] = [];
    for (const table of Object.values(schema).filter((x) => is(x, SQLiteTable)) as SQLiteTable[]) {
      const name = getTableName(table);
      const actual = new Map((sqlite.query(`PRAGMA table_info(${name})`).all() as { name: string; type: string; notnull: number; pk: number }[]).map((c) => [c.name, c]));
      const cols = getTableConfig(table);
      const pkCols = new Set([...cols.columns.filter((c) => c.primary).map((c) => c.name), ...cols.primaryKeys.flatMap((k) => k.columns.map((c) => c.name))]);
      for (const c of cols.columns) {
        const a = actual.get(c.name);
        if (!a) { problems.push(`${name}.${c.name}: in drizzle, not in the migrated database`); continue; }
        actual.delete(c.name);
        const type = c.getSQLType().toUpperCase();
        if (a.type.toUpperCase() !== type) problems.push(`${name}.${c.name}: type ${a.type} in SQL, ${type} in drizzle`);
        if (!!a.notnull !== (c.notNull && !c.primary)) {
          // SQLite reports INTEGER PRIMARY KEY as nullable; drizzle marks primary keys not-null
          problems.push(`${name}.${c.name}: NOT NULL ${!!a.notnull} in SQL, ${c.notNull} in drizzle`);
        }
        if ((a.pk > 0) !== pkCols.has(c.name)) problems.push(`${name}.${c.name}: primary key ${a.pk > 0} in SQL, ${pkCols.has(c.name)} in drizzle`);
      }
      for (const extra of actual.keys()) problems.push(`${name}.${extra}: in the migrated database, not in drizzle`);
    }
    expect(problems).toEqual([]);
  } finally {
    sqlite.close();
  }
});

test('0010 rebuilds the allocation tables of a v9 database keeping every row (dropping the queues cascades into nothing)', () => {
  const file = freshFile();
  const v9 = new Database(file, { create: true, strict: true });
  v9.exec('PRAGMA foreign_keys = ON');
  v9.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)');
  for (const f of readdirSync(MIGRATIONS_DIR).filter((f) => f.endsWith('.sql')).sort()) {
    const version = Number(/^(\d+)/.exec(f)![1]);
    if (version > 9) continue;
    v9.exec(readFileSync(join(MIGRATIONS_DIR, f), 'utf8'));
    v9.query('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(version, 'then');
  }
  v9.exec(`INSERT INTO alloc_queues (id, name, manager, pool, time_ms, nodes, backlog, max_allocs, idle_ms, sbatch_args, status, created_at, updated_at)
    VALUES ('q_1', 'p', 'slurm', 'p', 60000, 1, 1, 2, 1000, '[]', 'active', 'x', 'x')`);
  v9.exec(`INSERT INTO allocations (id, queue_id, status, slurm_id, dir, script, jobs_run, created_at) VALUES ('a_1', 'q_1', 'running', '42', '/d', '#!', 7, 'x')`);
  v9.close();
  const { sqlite } = openDatabase(file);
  try {
    expect(sqlite.query('SELECT id, name, node_cpus, cpus FROM alloc_queues').all()).toEqual([{ id: 'q_1', name: 'p', node_cpus: null, cpus: null }]);
    expect(sqlite.query('SELECT seq, id, queue_id, slurm_id, jobs_run FROM allocations').all()).toEqual([{ seq: 1, id: 'a_1', queue_id: 'q_1', slurm_id: '42', jobs_run: 7 }]);
    // the foreign key still holds, and a new allocation continues the sequence
    expect(() => sqlite.exec(`INSERT INTO allocations (id, queue_id, status, dir, script, created_at) VALUES ('a_x', 'q_missing', 'pending', '/d', '', 'x')`)).toThrow(/FOREIGN KEY/);
    sqlite.exec(`INSERT INTO allocations (id, queue_id, status, dir, script, created_at) VALUES ('a_2', 'q_1', 'pending', '/d', '', 'x')`);
    expect((sqlite.query(`SELECT seq FROM allocations WHERE id = 'a_2'`).get() as { seq: number }).seq).toBe(2);
    expect(sqlite.query(`SELECT name FROM sqlite_temp_master`).all()).toEqual([]);
  } finally {
    sqlite.close();
  }
});
