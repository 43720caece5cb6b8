// Live rows (runs, stages, groups) are kept between reads; no read may ever see a row the database
// does not hold: not after a write, not after a rolled-back transaction or savepoint, and not after a
// caller changed the object it got.
import { test, expect } from 'bun:test';
import { join } from 'node:path';
import { openDatabase } from '../../src/db/open.ts';
import { SqliteStore } from '../../src/db/store.ts';
import { tempDir } from '../helpers/server.ts';

function setup() {
  const file = join(tempDir(), 'drover.db');
  const { sqlite } = openDatabase(file);
  const store = new SqliteStore(sqlite, () => {}, file);
  sqlite.prepare(`INSERT INTO groups (id, pipeline, status, trigger, created_at) VALUES ('g', 'p', 'running', '{}', 'x')`).run();
  const fromDb = () => (sqlite.prepare('SELECT status, cancel_requested FROM groups WHERE id = ?').get('g') as { status: string; cancel_requested: number });
  return { store, fromDb };
}
const at = new Date().toISOString();

test('a row read inside a transaction that rolls back is not served after it', () => {
  const { store, fromDb } = setup();
  expect(store.getGroup('g')!.status).toBe('running');
  expect(() => store.tx(() => {
    store.transition('groups', 'g', 'running', 'paused', {}, { at });
    expect(store.getGroup('g')!.status).toBe('paused'); // (read, and kept, inside the transaction)
    throw new Error('roll back');
  })).toThrow('roll back');
  expect(fromDb().status).toBe('running');
  expect(store.getGroup('g')!.status).toBe('running');
});

test('a savepoint that rolls back inside a committed transaction', () => {
  const { store, fromDb } = setup();
  store.tx(() => {
    try {
      store.tx(() => {
        store.transition('groups', 'g', 'running', 'paused', {}, { at });
        store.getGroup('g');
        throw new Error('inner');
      });
    } catch { /* the savepoint only */ }
    expect(store.getGroup('g')!.status).toBe('running');
  });
  expect([fromDb().status, store.getGroup('g')!.status]).toEqual(['running', 'running']);
});

test('every writer drops what it changes; callers get copies', () => {
  const { store, fromDb } = setup();
  store.getGroup('g');
  store.transition('groups', 'g', 'running', 'paused', {}, { at });
  expect(store.getGroup('g')!.status).toBe('paused');
  store.requestGroupCancel('g');
  expect([fromDb().cancel_requested, store.getGroup('g')!.cancel_requested]).toEqual([1, 1]);
  const row = store.getGroup('g')!;
  row.status = 'succeeded';
  expect(store.getGroup('g')!.status).toBe('paused');
});
