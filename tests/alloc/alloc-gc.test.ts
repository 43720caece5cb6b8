// Retention GC of allocations (core/gc/allocations.ts) on a real SQLite file and real folders: ended
// allocations past --retention-max-age lose their row and <data-dir>/alloc/<id>; live ones (submitting,
// pending, running) never do, however old; a removed queue goes once its allocations are collected; a
// folder without a row (a crash) goes after the grace; a dry run removes nothing; without a max age
// nothing of an allocation is removed.
import { test, expect, afterAll } from 'bun:test';
import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../src/db/open.ts';
import { allocRepo } from '../../src/db/repos/alloc.ts';
import { gcRepo } from '../../src/db/repos/gc.ts';
import { GarbageCollector } from '../../src/core/gc/collector.ts';
import type { AllocQueueRow, AllocationRow } from '../../src/core/alloc/types.ts';

const dirs: string[] = [];
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

const NOW = Date.parse('2026-12-05T12:00:00Z');
const HOUR = 3600_000;
const iso = (ms: number) => new Date(ms).toISOString();

function setup(maxAgeMs: number | null) {
  const root = mkdtempSync(join(tmpdir(), 'drover-alloc-gc-')); dirs.push(root);
  const { sqlite } = openDatabase(join(root, 'drover.db'));
  const allocDir = join(root, 'alloc');
  mkdirSync(join(root, 'runs'), { recursive: true });
  const repo = allocRepo(sqlite);
  const queue = (id: string, name: string, status: AllocQueueRow['status'] = 'active') => repo.insertQueue({
    id, name, manager: 'slurm', pool: name, time_ms: HOUR, nodes: 1, backlog: 1, max_allocs: 2, idle_ms: 60_000, sbatch_args: '[]',
    status, reason: null, failures: 0, backoff_until: null, last_error: null, sbatch_calls: 0, created_at: iso(NOW - 100 * HOUR), updated_at: iso(NOW),
    node_cpus: 2, node_gpus: 0, cpus: 1, gpus: 0,
  });
  /** a row and its folder (script and Slurm output, as a real allocation leaves them) */
  const alloc = (id: string, queueId: string, status: AllocationRow['status'], endedAgoMs: number | null, createdAgoMs = 50 * HOUR) => {
    const dir = join(allocDir, id);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'alloc.sh'), '#!/bin/bash\n');
    writeFileSync(join(dir, 'slurm.out'), 'x'.repeat(5000));
    repo.insertAllocation({
      seq: 0, id, queue_id: queueId, status, slurm_id: '1', slurm_state: null, node: null, reason: null, message: null, token_id: null, dir,
      script: '#!', jobs_run: 3, connected_at: null, created_at: iso(NOW - createdAgoMs), started_at: null, ended_at: endedAgoMs === null ? null : iso(NOW - endedAgoMs),
    });
    return dir;
  };
  const gc = new GarbageCollector({
    repo: gcRepo(sqlite), runsDir: join(root, 'runs'), allocDir, defaultMaxAgeMs: maxAgeMs, tx: (fn) => sqlite.transaction(fn)(), now: () => NOW,
    retentionOf: () => undefined,
  });
  return { sqlite, repo, queue, alloc, gc, allocDir };
}

test('ended allocations past the max age go, row and folder; live ones never do; a removed queue goes once emptied; dry run removes nothing', async () => {
  const { sqlite, repo, queue, alloc, gc, allocDir } = setup(24 * HOUR);
  queue('q_live', 'live');
  queue('q_gone', 'gone', 'removed');
  queue('q_empty', 'empty', 'removed'); // drained before it ever submitted
  queue('q_young', 'young', 'removed'); // its allocation ended recently: kept, and so is the queue
  const old = { ended: alloc('a_ended', 'q_live', 'ended', 48 * HOUR), failed: alloc('a_failed', 'q_live', 'failed', 30 * HOUR), canceled: alloc('a_canceled', 'q_gone', 'canceled', 48 * HOUR) };
  const kept = {
    recent: alloc('a_recent', 'q_live', 'ended', HOUR),
    pending: alloc('a_pending', 'q_live', 'pending', null, 200 * HOUR), // old, but alive
    running: alloc('a_running', 'q_live', 'running', null, 200 * HOUR),
    submitting: alloc('a_submitting', 'q_live', 'submitting', null, 200 * HOUR),
    young: alloc('a_young', 'q_young', 'ended', 2 * HOUR),
  };
  // a folder with no row (a crash between the folder and the row): old → goes; fresh → stays (a submit under way)
  const orphan = join(allocDir, 'a_orphan'); mkdirSync(orphan); writeFileSync(join(orphan, 'alloc.sh'), 'x');
  utimesSync(orphan, new Date(NOW - 2 * HOUR), new Date(NOW - 2 * HOUR));
  const fresh = join(allocDir, 'a_fresh'); mkdirSync(fresh);
  utimesSync(fresh, new Date(NOW - 60_000), new Date(NOW - 60_000));

  const dry = await gc.run({ dryRun: true });
  expect(dry.allocations.map((a) => a.id).sort()).toEqual(['a_canceled', 'a_ended', 'a_failed']);
  expect(dry.allocations.every((a) => a.bytes >= 5000)).toBe(true);
  expect(dry.alloc_queues_removed.sort()).toEqual(['empty', 'gone']);
  expect(dry.orphans).toEqual([{ dir: 'alloc/a_orphan', bytes: expect.any(Number) }]);
  for (const d of [...Object.values(old), orphan]) expect(existsSync(d)).toBe(true);
  expect(repo.allocation('a_ended')).not.toBeNull();
  expect(repo.queue('q_empty')).not.toBeNull();

  const real = await gc.run({ dryRun: false });
  expect(real.allocations_removed).toBe(3);
  expect(real.allocations.find((a) => a.id === 'a_canceled')).toMatchObject({ queue: 'gone', status: 'canceled' });
  expect(real.bytes_freed).toBeGreaterThanOrEqual(15_000);
  expect(real.alloc_queues_removed.sort()).toEqual(['empty', 'gone']);
  for (const [id, d] of Object.entries(old)) { expect(existsSync(d)).toBe(false); expect(repo.allocation(`a_${id}`)).toBeNull(); }
  for (const [id, d] of Object.entries(kept)) { expect(existsSync(d)).toBe(true); expect(repo.allocation(`a_${id}`)).not.toBeNull(); }
  expect(existsSync(orphan)).toBe(false);
  expect(existsSync(fresh)).toBe(true);
  expect(repo.queue('q_gone')).toBeNull();
  expect(repo.queue('q_empty')).toBeNull();
  expect(repo.queue('q_young')!.status).toBe('removed');
  expect(repo.queue('live')!.status).toBe('active');
  expect(repo.alive().map((a) => a.id).sort()).toEqual(['a_pending', 'a_running', 'a_submitting']);

  // nothing more to do
  const again = await gc.run({ dryRun: false });
  expect(again.allocations_removed).toBe(0);
  expect(again.alloc_queues_removed).toEqual([]);
  sqlite.close();
});

test('without a max age (no --retention-max-age) no allocation is removed; an empty removed queue still goes', async () => {
  const { sqlite, repo, queue, alloc, gc } = setup(null);
  queue('q_1', 'kept', 'removed');
  queue('q_2', 'empty', 'removed');
  const d = alloc('a_old', 'q_1', 'ended', 1000 * HOUR);
  const r = await gc.run({ dryRun: false });
  expect(r.allocations_removed).toBe(0);
  expect(r.alloc_queues_removed).toEqual(['empty']);
  expect(existsSync(d)).toBe(true);
  expect(repo.queue('q_1')).not.toBeNull();
  sqlite.close();
});
