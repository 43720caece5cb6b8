// Per-token rate limit (token bucket): past it, 429 with Retry-After. Heartbeats, log chunks and
// completions are never limited: slowing them would expire leases that are doing fine.
import type { MiddlewareHandler } from 'hono';
import { DroverError } from '../../core/errors.ts';
import type { TokenRow } from '../../core/types.ts';

const EXEMPT = /\/jobs\/[^/]+\/(heartbeat|complete|logs)$/;

export function rateLimit({ perSecond = 50, burst = perSecond * 4 }: { perSecond?: number; burst?: number } = {}): MiddlewareHandler {
  const buckets = new Map<string, { tokens: number; at: number }>();
  return async (c, next) => {
    const row = c.get('token' as never) as TokenRow | undefined;
    if (!row || perSecond <= 0 || (c.req.method === 'POST' && EXEMPT.test(c.req.path))) return next();
    const now = Date.now();
    const b = buckets.get(row.id) ?? { tokens: burst, at: now };
    b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * perSecond);
    b.at = now;
    if (b.tokens < 1) {
      buckets.set(row.id, b);
      const wait = Math.ceil((1 - b.tokens) / perSecond);
      c.header('Retry-After', String(Math.max(1, wait)));
      throw new DroverError('rate_limited', `too many requests for this token (limit ${perSecond}/s); retry after ${Math.max(1, wait)} s`, { retry_after_s: Math.max(1, wait) });
    }
    b.tokens -= 1;
    buckets.set(row.id, b);
    return next();
  };
}
