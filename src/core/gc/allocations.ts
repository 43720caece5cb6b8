// Retention GC of allocation queues: an allocation that ended (ended, failed, canceled) longer than the
// server's --retention-max-age ago loses its row and its folder (<data-dir>/alloc/<id>: script, Slurm
// output); a live one (submitting, pending, running) never does — the repo re-checks the status inside
// its delete. A removed queue goes once no allocation row of it is left. Allocation folders without a
// row (a crash between the folder and the row) older than the grace go too. No per-pipeline rule
// applies: allocations belong to no pipeline.
import { readdirSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isoNow } from '../ids.ts';
import { isUnder, canonical } from '../workspace.ts';
import type { Logger } from '../ports.ts';
import type { GcRepo, GcReport } from './types.ts';
import { diskUsage } from './disk.ts';

export interface AllocGcDeps {
  repo: GcRepo;
  /** <data-dir>/alloc */
  dir: string;
  maxAgeMs: number | null;
  tx<T>(fn: () => T): T;
  orphanGraceMs: number;
  log?: Logger;
}

type AllocPart = Pick<GcReport, 'allocations_removed' | 'allocations' | 'alloc_queues_removed'> & { orphans: { dir: string; bytes: number }[] };

export async function collectAllocations(d: AllocGcDeps, now: number, dryRun: boolean): Promise<AllocPart> {
  const root = canonical(d.dir);
  const inside = (dir: string) => { try { return isUnder(root, dir) && canonical(dir) !== root; } catch { return false; } };
  const old = d.maxAgeMs === null ? [] : d.repo.endedAllocations(isoNow(now - d.maxAgeMs));
  const sized = old.map((a) => ({ a, bytes: inside(a.dir) ? diskUsage(a.dir) : 0 }));
  const gone = new Set(dryRun ? old.map((a) => a.id) : d.tx(() => d.repo.deleteAllocations(old.map((a) => a.id))));
  const removed: AllocPart['allocations'] = [];
  const perQueue = new Map<string, number>();
  for (const { a, bytes } of sized) {
    if (!gone.has(a.id)) continue;
    removed.push({ id: a.id, queue: a.queue, status: a.status, ended_at: a.ended_at, bytes });
    perQueue.set(a.queue_id, (perQueue.get(a.queue_id) ?? 0) + 1);
    if (dryRun) continue;
    if (!inside(a.dir)) { d.log?.warn('gc: an allocation folder is outside the alloc dir; left on disk', { allocation: a.id, dir: a.dir }); continue; }
    await rm(a.dir, { recursive: true, force: true }).catch((err) => d.log?.warn('gc: could not remove an allocation folder', { dir: a.dir, err: String(err) }));
  }
  // a removed queue whose last allocations just went (or that had none) goes too
  const emptied = d.repo.removedQueues().filter((q) => q.allocations === (dryRun ? perQueue.get(q.id) ?? 0 : 0));
  const queuesGone = dryRun ? emptied.map((q) => q.id) : d.tx(() => d.repo.deleteRemovedQueues(emptied.map((q) => q.id)));
  return {
    allocations_removed: removed.length, allocations: removed,
    alloc_queues_removed: emptied.filter((q) => queuesGone.includes(q.id)).map((q) => q.name),
    orphans: await orphans(d, now, dryRun),
  };
}

/** Allocation folders that no row names. */
async function orphans(d: AllocGcDeps, now: number, dryRun: boolean): Promise<{ dir: string; bytes: number }[]> {
  const out: { dir: string; bytes: number }[] = [];
  let names: string[];
  try { names = readdirSync(d.dir); } catch { return out; }
  for (const n of names) {
    if (!/^a_[A-Za-z0-9_-]+$/.test(n) || d.repo.allocationExists(n)) continue;
    const dir = join(d.dir, n);
    try { const st = statSync(dir); if (!st.isDirectory() || now - st.mtimeMs < d.orphanGraceMs) continue; } catch { continue; }
    out.push({ dir: `alloc/${n}`, bytes: diskUsage(dir) });
    if (!dryRun) await rm(dir, { recursive: true, force: true }).catch(() => {});
  }
  return out;
}
