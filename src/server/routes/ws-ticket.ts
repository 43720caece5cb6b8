// POST /api/v1/ws-ticket: a one-time ticket for the WebSocket (API.md §3; src/ws/tickets.ts), for
// any token that may read. The answer is {ticket, expires_at}; the ticket is never logged.
import { Hono } from 'hono';
import { DroverError } from '../../core/errors.ts';
import type { TokenRow } from '../../core/types.ts';
import type { Tickets } from '../../ws/tickets.ts';

export function wsTicketRoutes(tickets: Tickets) {
  return new Hono().post('/', (c) => {
    const row = c.get('token' as never) as TokenRow;
    const out = tickets.issue({ tokenId: row.id, tokenHash: row.hash });
    if (!out) {
      c.header('Retry-After', '30');
      throw new DroverError('rate_limited', 'too many unused WebSocket tickets; use or let expire the ones already issued (30 s)', { retry_after_s: 30 });
    }
    c.header('Cache-Control', 'no-store');
    return c.json(out, 201);
  });
}
