// Retention GC: per pipeline, the latest spec's `retention: {keep_last, max_age}` (max_age falling back
// to the server's --retention-max-age) picks the runs to remove: those beyond the newest keep_last,
// and those that ended longer than max_age ago. A run that is not terminal is never removed (and the
// status is checked again inside the removing transaction, so a retry racing the GC wins). Its DB
// rows go first, then its folder; run folders without a DB row (a crash between the two) older than
// an hour go too. Ended allocations of allocation queues go after the server's max_age (allocations.ts).
// A dry run computes the same report and removes nothing.
// Not here: SQL (db/repos/gc.ts), the daily timer (schedule.ts), HTTP (server/routes/gc.ts).
import { readdirSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join, basename } from 'node:path';
import { isoNow } from '../ids.ts';
import { runMachine, type RunStatus } from '../states/run.ts';
import { isUnder, canonical } from '../workspace.ts';
import type { Logger } from '../ports.ts';
import type { GcRepo, GcReport, GcRunRow, GcRemoved } from './types.ts';
import { diskUsage } from './disk.ts';
import { collectAllocations } from './allocations.ts';

export { diskUsage };

export interface Retention { keep_last?: number; max_age_ms?: number }

export interface GcDeps {
  repo: GcRepo;
  /** the retention of a pipeline's latest spec (undefined: none, or the spec is gone) */
  retentionOf(pipeline: string): Retention | undefined;
  runsDir: string;
  /** --retention-max-age: the max_age of pipelines that set none (null: keep forever) */
  defaultMaxAgeMs: number | null;
  /** runs the removal inside the store's transaction (for the group-commit barrier) */
  tx<T>(fn: () => T): T;
  now?: () => number;
  log?: Logger;
  /** a topic event's dedupe key holds this long; a settled event is removed after it (default 1 day) */
  eventTtlMs?: number;
  /** told every pass's report (metrics) */
  onPass?: (report: GcReport) => void;
  /** folders without a DB row are left alone until they are this old (a submit writes the folder first) */
  orphanGraceMs?: number;
  /** <data-dir>/alloc: allocation folders, collected with their rows after defaultMaxAgeMs (allocations.ts) */
  allocDir?: string;
}

const BATCH = 200;

export class GarbageCollector {
  private chain: Promise<unknown> = Promise.resolve();
  constructor(private readonly d: GcDeps) {}

  /** One GC pass; passes never overlap (a second waits for the first). */
  run(opts: { dryRun: boolean }): Promise<GcReport> {
    const next = this.chain.then(() => this.pass(opts.dryRun));
    this.chain = next.catch(() => {});
    return next;
  }

  private plan(now: number): { remove: (GcRunRow & { reason: GcRemoved['reason'] })[]; report: GcReport['pipelines']; skipped: number } {
    const remove: (GcRunRow & { reason: GcRemoved['reason'] })[] = [];
    const report: GcReport['pipelines'] = [];
    let skipped = 0;
    for (const pipeline of this.d.repo.pipelinesWithRuns()) {
      const r = this.d.retentionOf(pipeline) ?? {};
      const keep = r.keep_last ?? null;
      const maxAge = r.max_age_ms ?? this.d.defaultMaxAgeMs ?? null;
      const runs = this.d.repo.runsOf(pipeline);
      let removed = 0;
      if (keep !== null || maxAge !== null) {
        runs.forEach((run, i) => {
          const endedMs = Date.parse(run.ended_at ?? run.created_at);
          const reason = keep !== null && i >= keep ? 'keep_last' : maxAge !== null && now - endedMs > maxAge ? 'max_age' : null;
          if (!reason) return;
          if (!runMachine.isTerminal(run.status as RunStatus)) { skipped++; return; }
          remove.push({ ...run, reason });
          removed++;
        });
      }
      report.push({ pipeline, keep_last: keep, max_age_ms: maxAge, runs: runs.length, removed });
    }
    return { remove, report, skipped };
  }

  private async pass(dryRun: boolean): Promise<GcReport> {
    const now = this.d.now?.() ?? Date.now();
    const { remove, report, skipped } = this.plan(now);
    const runsRoot = canonical(this.d.runsDir);
    const inRunsDir = (dir: string) => { try { return isUnder(runsRoot, dir) && canonical(dir) !== runsRoot; } catch { return false; } };
    const removed: GcRemoved[] = [];
    for (let i = 0; i < remove.length; i += BATCH) {
      const batch = remove.slice(i, i + BATCH);
      const sized = batch.map((r) => ({ r, bytes: inRunsDir(r.dir) ? diskUsage(r.dir) : 0 }));
      const gone = new Set(dryRun ? batch.map((r) => r.id) : this.d.tx(() => this.d.repo.deleteRuns(batch)));
      for (const { r, bytes } of sized) {
        if (!gone.has(r.id)) continue;
        removed.push({ id: r.id, pipeline: r.pipeline, status: r.status, ended_at: r.ended_at, bytes, reason: r.reason });
        if (dryRun) continue;
        if (!inRunsDir(r.dir)) { this.d.log?.warn('gc: a run folder is outside the runs dir; left on disk', { runId: r.id, dir: r.dir }); continue; }
        await rm(r.dir, { recursive: true, force: true }).catch((err) => this.d.log?.warn('gc: could not remove a run folder', { dir: r.dir, err: String(err) }));
      }
    }
    const orphans = await this.orphans(now, dryRun);
    const allocs = this.d.allocDir
      ? await collectAllocations({ repo: this.d.repo, dir: this.d.allocDir, maxAgeMs: this.d.defaultMaxAgeMs, tx: this.d.tx, orphanGraceMs: this.d.orphanGraceMs ?? 3_600_000, log: this.d.log }, now, dryRun)
      : { allocations_removed: 0, allocations: [], alloc_queues_removed: [], orphans: [] };
    orphans.push(...allocs.orphans);
    const cutoff = isoNow(now - (this.d.eventTtlMs ?? 86_400_000));
    const events = dryRun ? this.d.repo.settledEvents(cutoff, true) : this.d.tx(() => this.d.repo.settledEvents(cutoff, false));
    const out: GcReport = {
      dry_run: dryRun, at: isoNow(now), runs_removed: removed.length,
      bytes_freed: removed.reduce((a, r) => a + r.bytes, 0) + orphans.reduce((a, o) => a + o.bytes, 0) + allocs.allocations.reduce((a, x) => a + x.bytes, 0),
      runs: removed, orphans, skipped_active: skipped, events_removed: events, pipelines: report,
      allocations_removed: allocs.allocations_removed, allocations: allocs.allocations, alloc_queues_removed: allocs.alloc_queues_removed,
    };
    if (!dryRun && (removed.length || orphans.length || events || allocs.allocations_removed || allocs.alloc_queues_removed.length)) {
      this.d.log?.info('gc removed runs', { runs: removed.length, orphans: orphans.length, events, allocations: allocs.allocations_removed, alloc_queues: allocs.alloc_queues_removed.length, bytes: out.bytes_freed });
    }
    this.d.onPass?.(out);
    return out;
  }

  /** Run folders that no run row names (left by a crash between DB delete and rm, or a failed submit). */
  private async orphans(now: number, dryRun: boolean): Promise<{ dir: string; bytes: number }[]> {
    const out: { dir: string; bytes: number }[] = [];
    let names: string[];
    try { names = readdirSync(this.d.runsDir); } catch { return out; }
    const grace = this.d.orphanGraceMs ?? 3_600_000;
    for (const n of names) {
      if (!/^r_[A-Za-z0-9_-]+$/.test(n) || this.d.repo.runExists(n)) continue;
      const dir = join(this.d.runsDir, n);
      try { if (!statSync(dir).isDirectory() || now - statSync(dir).mtimeMs < grace) continue; } catch { continue; }
      out.push({ dir: basename(dir), bytes: diskUsage(dir) });
      if (!dryRun) await rm(dir, { recursive: true, force: true }).catch(() => {});
    }
    return out;
  }
}
