// Group commit. SQLite runs with synchronous=NORMAL in WAL mode: a commit is safe against a crash of
// the server process at once, and against a power cut once the WAL is fsynced. Instead of one fsync
// per commit (synchronous=FULL), writers mark the WAL dirty and this barrier fsyncs it at most every
// `windowMs`, settling every waiter at once. Whatever is acknowledged to a client (an HTTP answer to a
// write) waits for `durable()` first, so an acknowledged change survives a power cut.
// The fsync runs off the event loop (one at a time): the scheduler keeps committing and starting jobs
// while the disk works, and what was committed meanwhile goes with the next fsync.
import { openSync, fsyncSync, closeSync, existsSync } from 'node:fs';
import { open } from 'node:fs/promises';

type Waiter = { resolve: () => void; reject: (e: unknown) => void };

export class GroupCommit {
  private dirty = false;
  private waiters: Waiter[] = [];
  private timer: ReturnType<typeof setTimeout> | null = null;
  private syncing = false;
  syncs = 0;
  lastError: string | null = null;
  /** told how long each fsync round took, in seconds (metrics) */
  onSync: ((seconds: number) => void) | null = null;

  /** windowMs: how soon a waiter's fsync runs; idleMs: how soon one runs when nobody waits for it (the
   *  scheduler's own commits: a power cut loses at most that much of them, and a restart re-adopts
   *  their jobs from their folders) */
  constructor(private dbFile: string, private changes: () => number, private windowMs = 2, private idleMs = 50) {}
  private lastChanges = 0;
  private timerDue = Infinity;

  /** Called after every committed write transaction. */
  markDirty(): void {
    this.dirty = true;
    this.schedule();
  }

  /** Resolves once everything committed so far is on stable storage. */
  durable(): Promise<void> {
    const n = this.changes();
    if (n !== this.lastChanges) { this.lastChanges = n; this.dirty = true; }
    if (!this.dirty && this.waiters.length === 0 && !this.syncing) return Promise.resolve();
    return new Promise((resolve, reject) => { this.waiters.push({ resolve, reject }); this.schedule(); });
  }

  private schedule(): void {
    if (this.syncing) return; // the fsync in flight schedules the next one when it is done
    const wait = this.waiters.length ? this.windowMs : this.idleMs;
    const due = Date.now() + wait;
    if (this.timer && this.timerDue <= due) return;
    if (this.timer) clearTimeout(this.timer); // a waiter came: sooner than the idle fsync
    this.timerDue = due;
    this.timer = setTimeout(() => { this.timer = null; this.timerDue = Infinity; void this.flushAsync(); }, wait);
  }

  private async flushAsync(): Promise<void> {
    const waiters = this.waiters.splice(0);
    const wasDirty = this.dirty;
    this.dirty = false;
    this.syncing = true;
    try {
      if (wasDirty) {
        const t0 = performance.now();
        for (const f of this.files()) await syncFileAsync(f);
        this.syncs++;
        this.onSync?.((performance.now() - t0) / 1000);
      }
      this.settle(waiters, null);
    } catch (err) {
      this.settle(waiters, err);
    } finally {
      this.syncing = false;
      if (this.dirty || this.waiters.length) this.schedule();
    }
  }

  /** fsync the WAL (and the database file) now, blocking (shutdown). */
  flush(): void {
    const waiters = this.waiters.splice(0);
    const wasDirty = this.dirty;
    this.dirty = false;
    try {
      if (wasDirty) {
        for (const f of this.files()) syncFile(f);
        this.syncs++;
      }
      this.settle(waiters, null);
    } catch (err) {
      this.settle(waiters, err);
    }
  }

  private files(): string[] { return [this.dbFile + '-wal', this.dbFile]; }

  private settle(waiters: Waiter[], err: unknown): void {
    if (err === null) {
      this.lastError = null;
      for (const w of waiters) w.resolve();
    } else {
      this.lastError = String(err);
      this.dirty = true;
      for (const w of waiters) w.reject(err);
    }
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.flush();
  }
}

function syncFile(path: string): void {
  if (!existsSync(path)) return;
  const fd = openSync(path, 'r');
  try { fsyncSync(fd); } finally { closeSync(fd); }
}

async function syncFileAsync(path: string): Promise<void> {
  let fh;
  try { fh = await open(path, 'r'); } catch (err) { if ((err as { code?: string }).code === 'ENOENT') return; throw err; }
  try { await fh.sync(); } finally { await fh.close(); }
}
