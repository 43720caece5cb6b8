// Read-only health checks of a data dir's database for `drover doctor` (SQL lives only in src/db).
import { Database } from 'bun:sqlite';

/** `PRAGMA quick_check` of the database file: ['ok'] when sound, else SQLite's list of problems. */
export function quickCheck(file: string): string[] {
  let db: Database;
  try { db = new Database(file, { readonly: true }); } catch { db = new Database(file, { create: false }); }
  try {
    db.exec('PRAGMA busy_timeout = 5000');
    return (db.query('PRAGMA quick_check').all() as { quick_check: string }[]).map((r) => r.quick_check);
  } finally { db.close(); }
}
