// /api/v1/alloc/queues (API.md §7): add (POST; checked against Slurm before it is stored), list with
// allocations (GET), one queue, its log (scripts + output), pause/resume, DELETE (drain). Writes need
// an admin token: a queue submits to the cluster and mints agent tokens. The work is in core/alloc.
import { Hono } from 'hono';
import * as v from 'valibot';
import { DroverError } from '../../core/errors.ts';
import { parseDuration } from '../../core/spec/units.ts';
import type { AllocManager } from '../../core/alloc/manager.ts';
import { readBody, check } from '../body.ts';
import { audit } from '../audit.ts';
import type { ServerDeps } from '../deps.ts';

const Duration = v.union([v.string(), v.number()]);
const Count = v.pipe(v.number(), v.integer('a whole number'), v.minValue(1, 'at least 1'), v.maxValue(10_000, 'at most 10000'));
const AddQueue = v.strictObject({
  manager: v.optional(v.string(), 'slurm'),
  pool: v.pipe(v.string(), v.minLength(1, 'pool: required')),
  time: Duration,
  nodes: v.optional(Count),
  backlog: v.optional(Count),
  max_allocs: v.optional(Count),
  idle: v.optional(Duration),
  name: v.optional(v.string()),
  sbatch_args: v.optional(v.pipe(v.array(v.pipe(v.string(), v.maxLength(1000))), v.maxLength(100))),
});

function duration(value: string | number, path: string): number {
  try { return parseDuration(value); } catch (e) { throw new DroverError('invalid_request', `${path}: ${(e as Error).message}`, { path }); }
}

export function allocRoutes(d: ServerDeps, manager: AllocManager) {
  return new Hono()
    .post('/queues', async (c) => {
      const b = check(AddQueue, await readBody(c));
      const out = await manager.add({
        manager: b.manager, pool: b.pool, time_ms: duration(b.time, 'time'), nodes: b.nodes, backlog: b.backlog, max_allocs: b.max_allocs,
        idle_ms: b.idle === undefined ? undefined : duration(b.idle, 'idle'), name: b.name, sbatch_args: b.sbatch_args,
      });
      audit(d.audit, c, 'alloc_add', out.id, { name: out.name, pool: out.pool });
      return c.json(out, 201);
    })
    .get('/queues', (c) => c.json({ items: manager.list(), next_cursor: null }))
    .get('/queues/:ref', (c) => c.json(manager.view(c.req.param('ref'))))
    .get('/queues/:ref/log', (c) => c.json(manager.log(c.req.param('ref'))))
    .post('/queues/:ref/pause', (c) => { const q = manager.setPaused(c.req.param('ref'), true); audit(d.audit, c, 'alloc_pause', q.id); return c.json(q); })
    .post('/queues/:ref/resume', (c) => { const q = manager.setPaused(c.req.param('ref'), false); audit(d.audit, c, 'alloc_resume', q.id); return c.json(q); })
    .delete('/queues/:ref', (c) => { const q = manager.remove(c.req.param('ref')); audit(d.audit, c, 'alloc_rm', q.id); return c.json(q); });
}
