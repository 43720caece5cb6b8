// Group commit. SQLite runs with synchronous=NORMAL in WAL mode: a commit is safe against a crash of
// the server process at once, and against a power cut once the WAL is fsynced. Instead of one fsync
// per commit (synchronous=FULL), writers mark the WAL dirty and this barrier fsyncs it at most every
// `windowMs`, settling every waiter at once. Whatever is acknowledged to a client (an HTTP answer to a
// write) waits for `durable()` first, so an acknowledged change survives a power cut.
import { openSync, fsyncSync, closeSync, existsSync } from 'node:fs';

export class GroupCommit {
  private dirty = false;
  private waiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  private timer: ReturnType<typeof setTimeout> | null = null;
  syncs = 0;
  lastError: string | null = null;

  constructor(private dbFile: string, private changes: () => number, private windowMs = 2) {}
  private lastChanges = 0;

  /** Called after every committed write transaction. */
  markDirty(): void {
    this.dirty = true;
    this.schedule();
  }

  /** Resolves once everything committed so far is on stable storage. */
  durable(): Promise<void> {
    const n = this.changes();
    if (n !== this.lastChanges) { this.lastChanges = n; this.dirty = true; }
    if (!this.dirty && this.waiters.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => { this.waiters.push({ resolve, reject }); this.schedule(); });
  }

  private schedule(): void {
    this.timer ??= setTimeout(() => { this.timer = null; this.flush(); }, this.windowMs);
  }

  /** fsync the WAL (and the database file) now. */
  flush(): void {
    const waiters = this.waiters.splice(0);
    const wasDirty = this.dirty;
    this.dirty = false;
    try {
      if (wasDirty) {
        for (const f of [this.dbFile + '-wal', this.dbFile]) this.syncFile(f);
        this.syncs++;
      }
      this.lastError = null;
      for (const w of waiters) w.resolve();
    } catch (err) {
      this.lastError = String(err);
      this.dirty = true;
      for (const w of waiters) w.reject(err);
    }
  }

  private syncFile(path: string): void {
    if (!existsSync(path)) return;
    const fd = openSync(path, 'r');
    try { fsyncSync(fd); } finally { closeSync(fd); }
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.flush();
  }
}
