// /api/v1/topics: publish an event to a topic (one run per subscribing pipeline; a repeated
// dedupe_key is a no-op that answers 200 with the first event), list a topic's events, show one.
import { Hono } from 'hono';
import { DroverError } from '../../core/errors.ts';
import type { TriggerService } from '../../core/triggers/index.ts';
import { readBody } from '../body.ts';
import { limitOf, cursorOf, type ServerDeps } from '../deps.ts';

export function topicsRoutes(d: ServerDeps, triggers: TriggerService) {
  return new Hono()
    .post('/:topic/events', async (c) => {
      const raw = await readBody(c, { optional: true });
      const out = triggers.publish(c.req.param('topic'), raw);
      return c.json(out.body, out.created ? 201 : 200);
    })
    .get('/:topic/events', (c) => {
      const limit = limitOf(c.req.query('limit'));
      const rows = d.core.topicEvents(c.req.param('topic'), limit + 1, cursorOf(c.req.query('cursor')));
      const items = rows.slice(0, limit);
      return c.json({ items: items.map((e) => triggers.topics.view(e)), next_cursor: rows.length > limit ? String(items[items.length - 1]!.seq) : null });
    })
    .get('/:topic/events/:id', (c) => {
      const ev = d.core.topicEvent(c.req.param('id'));
      if (!ev || ev.topic !== c.req.param('topic')) throw new DroverError('not_found', `no event ${c.req.param('id')} on topic '${c.req.param('topic')}'`);
      return c.json(triggers.topics.view(ev));
    });
}
