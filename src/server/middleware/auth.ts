// Bearer-token auth: every request but /healthz needs a token (header, or ?token= for WebSocket
// upgrades). The role decides: GET needs read, other methods write, some routes admin or agent.
import type { MiddlewareHandler } from 'hono';
import { hashToken, allowed, type Permission } from '../../core/tokens.ts';
import { DroverError } from '../../core/errors.ts';
import type { Store } from '../../core/ports.ts';
import type { TokenRow } from '../../core/types.ts';

export function tokenFrom(header: string | undefined, query: string | undefined): string | null {
  const m = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  return m?.[1] ?? query ?? null;
}

export function auth({ store }: { store: Pick<Store, 'tokenByHash'> }): MiddlewareHandler {
  return async (c, next) => {
    const token = tokenFrom(c.req.header('authorization'), c.req.query('token'));
    if (!token) throw new DroverError('unauthorized', 'missing bearer token (Authorization: Bearer <token>; the admin token is in <data-dir>/admin.token)');
    const row = store.tokenByHash(hashToken(token));
    if (!row) throw new DroverError('unauthorized', 'invalid token');
    c.set('token' as never, row as never);
    await next();
  };
}

export function need(p: Permission): MiddlewareHandler {
  return async (c, next) => {
    const row = c.get('token' as never) as TokenRow | undefined;
    if (!row || !allowed(row.role, p)) {
      throw new DroverError('forbidden', `a '${row?.role ?? 'anonymous'}' token may not do this (needs ${p} permission)`, { role: row?.role, needs: p });
    }
    await next();
  };
}

/** read for GET/HEAD, write otherwise. */
export function byMethod(): MiddlewareHandler {
  const read = need('read'), write = need('write');
  return (c, next) => (c.req.method === 'GET' || c.req.method === 'HEAD' ? read(c, next) : write(c, next));
}
