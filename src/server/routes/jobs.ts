// /api/v1/jobs: list, show (with attempts), why, logs, cancel.
import { Hono } from 'hono';
import { DroverError } from '../../core/errors.ts';
import { readLog } from '../logs.ts';
import { limitOf, cursorOf, type ServerDeps } from '../deps.ts';
import { audit } from '../audit.ts';
import { intParam, oneOf } from '../query.ts';
import { JOB_STATUSES } from '../../core/states/index.ts';

export function jobsRoutes(d: ServerDeps) {
  const core = d.core;
  const get = (id: string) => {
    const j = core.reads.getJob(id);
    if (!j) throw new DroverError('not_found', `no job ${id}`);
    return j;
  };
  return new Hono()
    .get('/', (c) => {
      const page = core.reads.listJobs({ limit: limitOf(c.req.query('limit')), cursor: cursorOf(c.req.query('cursor')), status: oneOf(c.req.query('status'), 'status', JOB_STATUSES), run_id: c.req.query('run'), group_id: c.req.query('group') });
      return c.json({ items: page.items.map(core.jobView), next_cursor: page.next_cursor === null ? null : String(page.next_cursor) });
    })
    .get('/:id', (c) => {
      const j = get(c.req.param('id'));
      return c.json({ ...core.jobView(j), attempts: core.attempts(j) });
    })
    .get('/:id/why', (c) => c.json(core.why(get(c.req.param('id')))))
    .get('/:id/logs', (c) => {
      const j = get(c.req.param('id'));
      const view = core.jobView(j);
      const command = intParam(c.req.query('command'), 'command');
      if (command !== null && command >= view.commands.length) throw new DroverError('not_found', `job ${j.id} has no command ${command} (it has ${view.commands.length})`);
      const offset = intParam(c.req.query('offset'), 'offset') ?? 0;
      const { data, size } = readLog(view.dir, view.commands.length, command, offset);
      return new Response(data as unknown as BodyInit, { headers: { 'content-type': 'text/plain; charset=utf-8', 'x-log-size': String(size), 'x-job-status': j.status } });
    })
    .post('/:id/cancel', (c) => { get(c.req.param('id')); const j = core.cancelJob(c.req.param('id')); audit(d.audit, c, 'cancel', j.id); return c.json(core.jobView(j)); });
}
