// One-time WebSocket tickets (API.md §3): POST /api/v1/ws-ticket trades the bearer token (in a
// header) for a random ticket that opens ONE WebSocket within 30 s (`/api/v1/ws?ticket=`). The web
// page uses it so the token never lands in a URL, an access log or a proxy's log. A ticket is kept
// in memory only as its SHA-256 hash, with the token it stands for (by hash, so a token deleted
// meanwhile makes the ticket worthless); redeeming deletes it, so a replayed ticket is refused.
// Not here: the HTTP route (server/routes/ws-ticket.ts) and the upgrade (hub.ts).
import { createHash, randomBytes } from 'node:crypto';

export const TICKET_TTL_MS = 30_000;
/** outstanding tickets at most (a client asking in a loop cannot grow memory without bound) */
export const MAX_TICKETS = 10_000;

export interface TicketGrant { tokenId: string; tokenHash: string }
export interface IssuedTicket { ticket: string; expires_at: string }

const hash = (t: string) => createHash('sha256').update(t).digest('hex');

export function createTickets({ ttlMs = TICKET_TTL_MS, max = MAX_TICKETS, now = Date.now }: { ttlMs?: number; max?: number; now?: () => number } = {}) {
  const live = new Map<string, TicketGrant & { expires: number }>();
  const purge = (t: number) => { for (const [k, v] of live) if (v.expires <= t) live.delete(k); };
  return {
    /** A new ticket for this token, or null when too many are outstanding. */
    issue(grant: TicketGrant): IssuedTicket | null {
      const t = now();
      if (live.size >= max) purge(t);
      if (live.size >= max) return null;
      const ticket = `wst_${randomBytes(24).toString('base64url')}`;
      live.set(hash(ticket), { ...grant, expires: t + ttlMs });
      return { ticket, expires_at: new Date(t + ttlMs).toISOString() };
    },
    /** The grant of an unexpired ticket, used up by this call; null for an unknown, used or expired one. */
    redeem(ticket: string): TicketGrant | null {
      const k = hash(ticket);
      const g = live.get(k);
      if (!g) return null;
      live.delete(k);
      return g.expires > now() ? { tokenId: g.tokenId, tokenHash: g.tokenHash } : null;
    },
    size: () => live.size,
  };
}

export type Tickets = ReturnType<typeof createTickets>;
