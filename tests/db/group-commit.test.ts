// The group-commit barrier: durable() settles only after an fsync that covers every committed write,
// many writers share one fsync, and nothing is synced when nothing changed.
import { test, expect } from 'bun:test';
import { join } from 'node:path';
import { openDatabase } from '../../src/db/open.ts';
import { SqliteStore } from '../../src/db/store.ts';
import { tempDir } from '../helpers/server.ts';

function freshStore() {
  const file = join(tempDir(), 'drover.db');
  const { sqlite } = openDatabase(file);
  return new SqliteStore(sqlite, () => {}, file);
}

const token = (i: number) => ({ id: `t_${i}`, name: `n${i}`, role: 'reader' as const, hash: `h${i}`, created_at: new Date().toISOString(), last_used_at: null });

test('durable() waits for an fsync after a write; concurrent waiters share one', async () => {
  const store = freshStore();
  await store.durable();
  const before = store.commits.syncs;
  store.insertToken(token(1));
  store.tx(() => store.insertToken(token(2)));
  await Promise.all([store.durable(), store.durable(), store.durable()]);
  expect(store.commits.syncs).toBe(before + 1);
  expect(store.listTokens().length).toBe(2);
});

test('durable() with nothing written does not fsync', async () => {
  const store = freshStore();
  await store.durable();
  const n = store.commits.syncs;
  await store.durable();
  expect(store.commits.syncs).toBe(n);
});
