// /api/v1/queue (what runs and waits, per executor and group, and the daemon's heartbeat) and
// /api/v1/events?since=SEQ (status changes, the same objects the WebSocket sends).
import { Hono } from 'hono';
import { limitOf, cursorOf, type ServerDeps } from '../deps.ts';

export function queueSnapshot(d: ServerDeps) {
  const { reads } = d.core;
  const load = d.core.load();
  // kept counts (db/job-counts.ts), not a count of the jobs table per request
  const counts = reads.queueCounts();
  const queued = counts.total.queued;
  const groups = counts.groups.map(([id, t]) => ({ id, status: reads.getGroup(id)?.status ?? 'running', running: t.running, queued: t.queued }));
  const executors: Record<string, Record<string, unknown> & { slots: number; used: number }> = {};
  const queuedOf = new Map(counts.executors.map(([name, t]) => [name, t.queued]));
  for (const e of load.executors) {
    executors[e.name] = {
      slots: e.slots, used: e.used, queued: queuedOf.get(e.name) ?? 0, ...e.facts, source: e.source, api_version: e.apiVersion,
      ...(e.unavailable !== null ? { available: false, unavailable_reason: e.unavailable } : { available: true }),
    };
  }
  return {
    max_parallel: load.maxParallel, running: load.running, queued, executors, groups,
    daemon: { pid: d.daemon.pid, started_at: d.daemon.started_at, heartbeat_at: d.daemon.heartbeatAt(), version: d.version },
    storage: load.storageError ? { ok: false, error: load.storageError } : { ok: true },
    // allocation queues with their latest allocations (pending/running/ended, Slurm id, node, age, jobs run)
    alloc_queues: d.alloc ? d.alloc.list(10) : [],
  };
}

export function queueRoutes(d: ServerDeps) {
  return new Hono().get('/', (c) => c.json(queueSnapshot(d)));
}

export function eventsRoutes(d: ServerDeps) {
  return new Hono().get('/', (c) => {
    const since = cursorOf(c.req.query('since'), 'since') ?? 0;
    const limit = limitOf(c.req.query('limit'), 500, 5000);
    const items = d.core.reads.eventsSince(since, limit).map((e) => ({ type: 'status', ...e }));
    return c.json({ items, next_cursor: items.length === limit ? String(items[items.length - 1]!.seq) : null });
  });
}
