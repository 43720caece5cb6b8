// The run folders a big sweep's submit left for later (runs.folder_pending, core/run-folder.ts): made
// oldest first by a pump beside the ticks — a batch written with asynchronous file calls (off the main
// thread, so starts and ends go on meanwhile), then marked made in one short transaction — and before
// any job of those runs starts (the gate runFolderPending holds them; `why` says run_folder_pending).
// Which runs wait is kept in memory too, loaded from the database at start, so a restart finishes the
// folders a crash left unmade. Making a folder twice only rewrites the same run.json.
import { runJsonText, specSnapshot, writeRunFolder, writeRunFolderAsync } from '../run-folder.ts';
import type { Store } from '../ports.ts';
import type { PendingFolderRun } from '../types.ts';
import type { TxEffects } from './tx-effects.ts';

/** folders written at once: far ahead of the starts, and few open files */
export const FOLDERS_PER_BATCH = 200;
/** after a failed batch (a full disk), the pump waits this long before the periodic tick tries again */
export const FOLDER_RETRY_MS = 30_000;

export interface FolderHost {
  store: Pick<Store, 'pendingFolderRunIds' | 'runsWithPendingFolder' | 'markFoldersMade' | 'pipelineGet'>;
  transact<T>(fn: (fx: TxEffects) => T): T;
  /** folders were made: parked groups may start (unpark + wake) */
  made(): void;
  /** false while stopped, or held back (failpoint run_folders: tests kill -9 the server before) */
  mayRun(): boolean;
  warn(message: string, fields: Record<string, unknown>): void;
}

export class RunFolders {
  private pending = new Set<string>();
  private snapshots = new Map<string, string>();
  private pumping: Promise<void> | null = null;
  /** after a failure: no new try before this time (ms) */
  private retryAt = 0;

  constructor(private readonly host: FolderHost) {}

  load(): void { this.pending = new Set(this.host.store.pendingFolderRunIds()); }
  get size(): number { return this.pending.size; }
  isPending(runId: string): boolean { return this.pending.has(runId); }

  /** Runs written with folder_pending (inside the submit's transaction; a rollback forgets them, the
   *  commit starts the pump). */
  add(fx: TxEffects, runIds: string[]): void {
    for (const id of runIds) this.pending.add(id);
    fx.onRollback(() => { for (const id of runIds) this.pending.delete(id); });
    fx.afterCommit(() => void this.pump());
  }

  /** The periodic tick's call: a pump that stopped on a failure starts again once its wait is over. */
  retry(now: number): void { if (this.pending.size > 0 && !this.pumping && now >= this.retryAt) void this.pump(); }

  /** Make every pending folder, a batch at a time; resolves when none is left (or it may not run). */
  pump(): Promise<void> {
    this.pumping ??= this.run().finally(() => { this.pumping = null; });
    return this.pumping;
  }

  private async run(): Promise<void> {
    while (this.pending.size > 0 && this.host.mayRun()) {
      if ((await this.batch()) === 0) return;
    }
  }

  /** Write the next batch of folders and mark them made; how many (0: none left, or a failure). */
  async batch(): Promise<number> {
    const rows = this.host.store.runsWithPendingFolder(FOLDERS_PER_BATCH);
    if (rows.length === 0) { this.pending.clear(); return 0; } // (the table has none left: nothing is pending)
    try {
      await Promise.all(rows.map((r) => writeRunFolderAsync(r.dir, this.text(r))));
      this.host.transact((fx) => this.markMade(fx, rows));
    } catch (err) {
      // a full disk: the runs stay pending (their jobs wait, why says so); tried again after FOLDER_RETRY_MS
      this.retryAt = Date.now() + FOLDER_RETRY_MS;
      this.host.warn('could not make run folders; their runs wait', { err: String(err), runs: rows.length, retry_in_ms: FOLDER_RETRY_MS });
      return 0;
    }
    this.host.made();
    return rows.length;
  }

  /** One run's folder now, if it is pending (a remote agent claimed one of its jobs first). */
  makeNow(fx: TxEffects, run: PendingFolderRun & { folder_pending: number }): void {
    if (!run.folder_pending && !this.pending.has(run.id)) return;
    writeRunFolder(run.dir, this.text(run));
    this.markMade(fx, [run]);
  }

  private markMade(fx: TxEffects, rows: PendingFolderRun[]): void {
    const ids = rows.map((r) => r.id);
    this.host.store.markFoldersMade(ids);
    for (const id of ids) this.pending.delete(id);
    fx.onRollback(() => { for (const id of ids) this.pending.add(id); });
  }

  private text(r: PendingFolderRun): string {
    return runJsonText({ id: r.id, pipeline: r.pipeline, version: r.pipeline_version, groupId: r.group_id, params: r.params, trigger: r.trigger, createdAt: r.created_at }, this.snapshot(r.pipeline, r.pipeline_version));
  }

  /** the spec part of run.json, the same for every run of a pipeline version */
  private snapshot(pipeline: string, version: number): string {
    const key = `${pipeline}@${version}`;
    let s = this.snapshots.get(key);
    if (s === undefined) {
      const row = this.host.store.pipelineGet(pipeline, version);
      s = JSON.stringify(specSnapshot(row ? JSON.parse(row.spec) : null));
      if (this.snapshots.size >= 64) this.snapshots.clear();
      this.snapshots.set(key, s);
    }
    return s;
  }
}
