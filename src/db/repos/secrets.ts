// SQL of the secret store (core/secrets/store.ts): encrypted rows only; the values never reach here in clear.
import type { Database } from 'bun:sqlite';
import type { SecretRepo, SecretRow } from '../../core/secrets/types.ts';

/** `tx`: the store's transaction, so a write joins the group commit an HTTP answer waits for. */
export function secretsRepo(db: Database, tx: <T>(fn: () => T) => T = (fn) => fn()): SecretRepo {
  const list = db.prepare('SELECT name, iv, ciphertext, created_at, updated_at FROM secrets ORDER BY name');
  const get = db.prepare('SELECT name, iv, ciphertext, created_at, updated_at FROM secrets WHERE name = ?');
  const put = db.prepare(`INSERT INTO secrets (name, iv, ciphertext, created_at, updated_at) VALUES ($name, $iv, $ciphertext, $created_at, $updated_at)
    ON CONFLICT (name) DO UPDATE SET iv = excluded.iv, ciphertext = excluded.ciphertext, updated_at = excluded.updated_at`);
  const del = db.prepare('DELETE FROM secrets WHERE name = ?');
  return {
    list: () => list.all() as SecretRow[],
    get: (name) => get.get(name) as SecretRow | null,
    put: (row) => { tx(() => put.run(row as never)); },
    delete: (name) => tx(() => del.run(name).changes === 1),
  };
}
