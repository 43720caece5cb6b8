// The run folders a big sweep's submit left for later (runs.folder_pending, core/run-folder.ts): made
// oldest first, a batch per scheduler tick, and before any job of those runs starts (the gate
// runFolderPending holds them; `why` says run_folder_pending). Which runs wait is kept in memory too,
// loaded from the database at start, so a restart finishes the folders a crash left unmade.
import { specSnapshot, writeRunFolder } from '../run-folder.ts';
import type { Store } from '../ports.ts';
import type { PendingFolderRun } from '../types.ts';
import type { TxEffects } from './tx-effects.ts';

/** folders made per tick: far more runs than a tick starts, and a tick stays short */
export const FOLDERS_PER_TICK = 200;

export class RunFolders {
  private pending = new Set<string>();
  private snapshots = new Map<string, string>();

  constructor(private readonly store: Pick<Store, 'pendingFolderRunIds' | 'runsWithPendingFolder' | 'markFoldersMade' | 'pipelineGet'>) {}

  load(): void { this.pending = new Set(this.store.pendingFolderRunIds()); }
  get size(): number { return this.pending.size; }
  isPending(runId: string): boolean { return this.pending.has(runId); }

  /** Runs written with folder_pending (inside the submit's transaction; a rollback forgets them). */
  add(fx: TxEffects, runIds: string[]): void {
    for (const id of runIds) this.pending.add(id);
    fx.onRollback(() => { for (const id of runIds) this.pending.delete(id); });
  }

  /** Make up to `limit` pending folders, oldest first, and mark them made (inside a transaction: a
   *  rollback leaves them pending, and making one again only rewrites its run.json). */
  makeSome(fx: TxEffects, limit = FOLDERS_PER_TICK): number {
    if (this.pending.size === 0) return 0;
    const rows = this.store.runsWithPendingFolder(limit);
    this.make(fx, rows);
    if (rows.length < limit) this.pending.clear(); // (the table has no more: nothing else is pending)
    return rows.length;
  }

  /** One run's folder now, if it is pending (a remote agent claimed one of its jobs first). */
  makeNow(fx: TxEffects, run: PendingFolderRun & { folder_pending: number }): void {
    if (run.folder_pending || this.pending.has(run.id)) this.make(fx, [run]);
  }

  private make(fx: TxEffects, rows: PendingFolderRun[]): void {
    if (rows.length === 0) return;
    for (const r of rows) {
      writeRunFolder(r.dir, { id: r.id, pipeline: r.pipeline, version: r.pipeline_version, groupId: r.group_id, params: r.params, trigger: r.trigger, createdAt: r.created_at }, this.snapshot(r.pipeline, r.pipeline_version));
    }
    const ids = rows.map((r) => r.id);
    this.store.markFoldersMade(ids);
    for (const id of ids) this.pending.delete(id);
    fx.onRollback(() => { for (const id of ids) this.pending.add(id); });
  }

  /** the spec part of run.json, the same for every run of a pipeline version */
  private snapshot(pipeline: string, version: number): string {
    const key = `${pipeline}@${version}`;
    let s = this.snapshots.get(key);
    if (s === undefined) {
      const row = this.store.pipelineGet(pipeline, version);
      s = JSON.stringify(specSnapshot(row ? JSON.parse(row.spec) : null));
      if (this.snapshots.size >= 64) this.snapshots.clear();
      this.snapshots.set(key, s);
    }
    return s;
  }
}
