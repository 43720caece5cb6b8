// /api/v1/groups: list, show with counts, results (one row per run; json or csv), pause, resume, cancel.
import { Hono } from 'hono';
import { DroverError } from '../../core/errors.ts';
import { oneOf } from '../query.ts';
import { GROUP_STATUSES } from '../../core/states/index.ts';
import { resultsCsv } from '../../core/results.ts';
import { limitOf, cursorOf, type ServerDeps } from '../deps.ts';
import { audit } from '../audit.ts';

export function groupsRoutes(d: ServerDeps) {
  const core = d.core;
  const id = (raw: string) => {
    if (!core.reads.getGroup(raw)) throw new DroverError('not_found', `no group ${raw}`);
    return raw;
  };
  return new Hono()
    .get('/', (c) => {
      const page = core.reads.listGroups({ limit: limitOf(c.req.query('limit')), cursor: cursorOf(c.req.query('cursor')), status: oneOf(c.req.query('status'), 'status', GROUP_STATUSES), pipeline: c.req.query('pipeline') });
      return c.json({ items: page.items.map(core.groupView), next_cursor: page.next_cursor === null ? null : String(page.next_cursor) });
    })
    .get('/:id', (c) => c.json({ ...core.groupView(core.reads.getGroup(id(c.req.param('id')))!), cost: core.costOfGroup(c.req.param('id')) }))
    .get('/:id/results', (c) => {
      const format = c.req.query('format') ?? 'json';
      if (format !== 'json' && format !== 'csv') throw new DroverError('invalid_request', `format: must be json or csv (got '${format}')`, { path: 'format' });
      const rows = core.results(id(c.req.param('id')), c.req.query('sort') || undefined);
      if (format === 'json') return c.json({ items: rows, next_cursor: null });
      c.header('Content-Disposition', `attachment; filename="${c.req.param('id')}-results.csv"`);
      return c.body(resultsCsv(rows), 200, { 'Content-Type': 'text/csv; charset=utf-8' });
    })
    .post('/:id/pause', (c) => { const out = core.pauseGroup(id(c.req.param('id'))); audit(d.audit, c, 'pause', out.id); return c.json(out); })
    .post('/:id/resume', (c) => { const out = core.resumeGroup(id(c.req.param('id'))); audit(d.audit, c, 'resume', out.id); return c.json(out); })
    .post('/:id/cancel', (c) => { const out = core.cancelGroup(id(c.req.param('id'))); audit(d.audit, c, 'cancel', out.id); return c.json(out); });
}
