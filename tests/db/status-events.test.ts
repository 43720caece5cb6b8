// Status events reach the bus from memory (no read-back), one multi-row INSERT per transaction: what
// the bus gets must be exactly what the table holds — every committed event once, in seq order, and
// nothing of a rolled-back transaction or savepoint — also when another process writes events.
import { test, expect } from 'bun:test';
import { join } from 'node:path';
import { Database } from 'bun:sqlite';
import { openDatabase } from '../../src/db/open.ts';
import { SqliteStore } from '../../src/db/store.ts';
import { StatusPublisher } from '../../src/core/scheduler/status-publisher.ts';
import { Bus } from '../../src/core/events.ts';
import type { StatusEvent } from '../../src/core/types.ts';
import { tempDir } from '../helpers/server.ts';

const quiet = { info() {}, warn() {}, error() {}, scope() { return quiet; } };

function setup(groups: number) {
  const file = join(tempDir(), 'drover.db');
  const { sqlite } = openDatabase(file);
  const store = new SqliteStore(sqlite, () => {}, file);
  const ins = sqlite.prepare(`INSERT INTO groups (id, pipeline, status, trigger, created_at) VALUES (?, 'p', 'running', '{}', 'x')`);
  for (let g = 0; g < groups; g++) ins.run(`g${g}`);
  const bus = new Bus(quiet);
  const got: StatusEvent[] = [];
  bus.on('status', (e) => got.push(e));
  const publisher = new StatusPublisher(store, bus);
  publisher.start();
  const table = () => sqlite.prepare('SELECT seq, kind, entity_id AS id, run_id, status, at FROM status_events ORDER BY seq').all() as StatusEvent[];
  return { file, sqlite, store, publisher, got, table };
}

/** deterministic pseudo-random numbers (a failure can be replayed) */
function rng(seed: number) {
  return () => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed / 2 ** 31; };
}

test('random transactions, savepoints and rollbacks: the bus gets exactly the committed events, in order, once', () => {
  const G = 6;
  const { store, publisher, got, table } = setup(G);
  const status = new Map<string, string>([...Array(G).keys()].map((g) => [`g${g}`, 'running']));
  const random = rng(20261205);
  const flip = (g: string) => {
    const from = status.get(g)!;
    const to = from === 'running' ? 'paused' : 'running';
    if (store.transition('groups', g, from, to, {}, { at: new Date().toISOString() })) status.set(g, to);
  };
  for (let round = 0; round < 300; round++) {
    const before = new Map(status);
    try {
      store.tx(() => {
        for (let k = Math.floor(random() * 4); k > 0; k--) flip(`g${Math.floor(random() * G)}`);
        if (random() < 0.5) {
          const inner = new Map(status);
          try {
            store.tx(() => {
              for (let k = 1 + Math.floor(random() * 3); k > 0; k--) flip(`g${Math.floor(random() * G)}`);
              if (random() < 0.4) throw new Error('savepoint rolled back');
            });
          } catch { for (const [g, s] of inner) status.set(g, s); }
        }
        if (random() < 0.25) throw new Error('transaction rolled back');
      });
    } catch { for (const [g, s] of before) status.set(g, s); }
    if (random() < 0.2) flip(`g${Math.floor(random() * G)}`); // (outside any transaction)
    if (random() < 0.6) publisher.publish();
  }
  publisher.publish();
  const rows = table();
  expect(rows.length).toBeGreaterThan(100);
  expect(got).toEqual(rows);
  // and the table holds only changes that were committed: per group, each event flips the status, and
  // the last one is the status the group has
  for (let g = 0; g < G; g++) {
    const seen = rows.filter((e) => e.id === `g${g}`).map((e) => e.status);
    expect(seen.every((s, i) => s === (i % 2 === 0 ? 'paused' : 'running'))).toBe(true);
    const now = (store.db.prepare('SELECT status FROM groups WHERE id = ?').get(`g${g}`) as { status: string }).status;
    expect([g, seen.at(-1) ?? 'running']).toEqual([g, now]);
    expect(now).toBe(status.get(`g${g}`)!);
  }
});

test('events another process wrote are published too, in order (the table is read where memory has a gap)', () => {
  const { file, store, publisher, got, table } = setup(2);
  const other = new Database(file);
  const at = new Date().toISOString();
  store.transition('groups', 'g0', 'running', 'paused', {}, { at });
  other.prepare(`INSERT INTO status_events (kind, entity_id, run_id, status, at) VALUES ('group', 'elsewhere', NULL, 'running', ?)`).run(at);
  store.transition('groups', 'g1', 'running', 'paused', {}, { at });
  publisher.publish();
  store.tx(() => store.transition('groups', 'g0', 'paused', 'running', {}, { at }));
  publisher.publish();
  expect(got.map((e) => e.id)).toEqual(['g0', 'elsewhere', 'g1', 'g0']);
  expect(got).toEqual(table());
  other.close();
});

test('one transaction of more events than memory keeps (a 100,000-run sweep): all reach the bus from the table, in order, once; a rolled-back one writes none', () => {
  const { store, publisher, got, table } = setup(1);
  const at = new Date().toISOString();
  const many = 10_000 + 2_345; // (more than the buffer's cap, and not a multiple of the slice)
  store.tx(() => { for (let i = 0; i < 3; i++) store.events.add({ kind: 'run', id: `small${i}`, run_id: null, status: 'queued', at }); });
  store.tx(() => { for (let i = 0; i < many; i++) store.events.add({ kind: 'run', id: `r${i}`, run_id: `r${i}`, status: 'queued', at }); });
  expect(() => store.tx(() => { for (let i = 0; i < many; i++) store.events.add({ kind: 'run', id: `gone${i}`, run_id: null, status: 'queued', at }); throw new Error('rolled back'); })).toThrow('rolled back');
  store.tx(() => store.events.add({ kind: 'run', id: 'after', run_id: null, status: 'queued', at }));
  publisher.publish();
  const rows = table();
  expect(rows.length).toBe(3 + many + 1);
  expect(rows.slice(3, 3 + many).map((e) => e.id)).toEqual([...Array(many).keys()].map((i) => `r${i}`));
  expect(got).toEqual(rows);
});
