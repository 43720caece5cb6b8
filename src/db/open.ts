// Opens the SQLite store: PRAGMAs (WAL, busy_timeout, foreign keys, synchronous=NORMAL plus the
// group-commit fsync barrier in durability.ts),
// applies checked-in migrations, and refuses data dirs on network filesystems where WAL is unsafe.
import { Database } from 'bun:sqlite';
import { drizzle } from 'drizzle-orm/bun-sqlite';
import { readFileSync, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import * as schema from './schema.ts';
import m0001 from './migrations/0001_init.sql' with { type: 'text' };
import m0002 from './migrations/0002_device_stats.sql' with { type: 'text' };
import m0003 from './migrations/0003_triggers.sql' with { type: 'text' };
import m0004 from './migrations/0004_security.sql' with { type: 'text' };
import m0005 from './migrations/0005_finalizer.sql' with { type: 'text' };
import m0006 from './migrations/0006_cancel_intent.sql' with { type: 'text' };
import m0007 from './migrations/0007_job_matrix.sql' with { type: 'text' };
import m0008 from './migrations/0008_runs_group_seq.sql' with { type: 'text' };
import m0009 from './migrations/0009_alloc_queues.sql' with { type: 'text' };
import m0010 from './migrations/0010_alloc_shape.sql' with { type: 'text' };
import m0011 from './migrations/0011_run_folder_pending.sql' with { type: 'text' };
import { DroverError, isStorageError } from '../core/errors.ts';
export { isStorageError };

const MIGRATIONS: { version: number; sql: string }[] = [{ version: 1, sql: m0001 }, { version: 2, sql: m0002 }, { version: 3, sql: m0003 }, { version: 4, sql: m0004 }, { version: 5, sql: m0005 }, { version: 6, sql: m0006 }, { version: 7, sql: m0007 }, { version: 8, sql: m0008 }, { version: 9, sql: m0009 }, { version: 10, sql: m0010 }, { version: 11, sql: m0011 }];
export const NETWORK_FS = new Set(['nfs', 'nfs4', 'lustre', 'gpfs', 'cifs', 'smb3', 'smbfs', 'beegfs', 'fuse.sshfs', 'ceph', 'fuse.glusterfs', 'panfs']);

export type Sqlite = Database;

export function openDatabase(file: string): { sqlite: Database; orm: ReturnType<typeof drizzle<typeof schema>> } {
  const sqlite = new Database(file, { create: true, strict: true });
  sqlite.exec('PRAGMA journal_mode = WAL');
  sqlite.exec('PRAGMA busy_timeout = 5000');
  sqlite.exec('PRAGMA foreign_keys = ON');
  sqlite.exec('PRAGMA synchronous = NORMAL'); // durability comes from GroupCommit (one fsync per window)
  migrate(sqlite);
  return { sqlite, orm: drizzle(sqlite, { schema }) };
}

export function migrate(sqlite: Database): void {
  sqlite.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)');
  const done = new Set((sqlite.query('SELECT version FROM schema_migrations').all() as { version: number }[]).map((r) => r.version));
  for (const m of MIGRATIONS) {
    if (done.has(m.version)) continue;
    sqlite.transaction(() => {
      sqlite.exec(m.sql);
      sqlite.query('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(m.version, new Date().toISOString());
    })();
  }
}

/** The filesystem type under `dir`, from the longest matching mount point in /proc/mounts. */
export function filesystemType(dir: string, mountsFile = process.env.DROVER_MOUNTS_FILE ?? '/proc/mounts'): string | null {
  let text: string;
  try { text = readFileSync(mountsFile, 'utf8'); } catch { return null; }
  const abs = resolve(dir);
  let best: { point: string; type: string } | null = null;
  for (const line of text.split('\n')) {
    const [, point, type] = line.split(' ');
    if (!point || !type) continue;
    const p = point.replace(/\\040/g, ' ');
    const under = abs === p || abs.startsWith(p.endsWith('/') ? p : p + '/');
    if (under && (!best || p.length > best.point.length)) best = { point: p, type };
  }
  return best?.type ?? null;
}

export function assertLocalFilesystem(dir: string, allowNetworkFs: boolean): void {
  mkdirSync(dir, { recursive: true });
  const type = filesystemType(dir);
  if (type && NETWORK_FS.has(type) && !allowNetworkFs) {
    throw new DroverError('invalid_request',
      `the data dir ${dir} is on a ${type} filesystem, where SQLite's WAL mode can corrupt the database; ` +
      `use a local disk (e.g. --data-dir /tmp/$USER/drover or node-local scratch), or pass --allow-network-fs to accept the risk`,
      { fs_type: type, data_dir: dir });
  }
}

export function storageUnavailable(err: unknown, action: string): DroverError {
  const msg = err instanceof Error ? err.message : String(err);
  return new DroverError('storage_unavailable', `storage unavailable while ${action}: ${msg} (reads still work; retry once space is back or the disk is writable)`, { action });
}
