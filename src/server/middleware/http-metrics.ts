// Times every HTTP request and reports it by method, matched route pattern (never the raw path, so
// ids do not make new series) and status. An unmatched path is reported as route "unmatched".
import type { MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

export function httpMetrics(observe: (method: string, route: string, status: number, seconds: number) => void): MiddlewareHandler {
  return async (c, next) => {
    const t0 = performance.now();
    await next();
    const last = c.req.matchedRoutes[c.req.matchedRoutes.length - 1];
    const route = !last || (last.method === 'ALL' && last.path.endsWith('*') && c.res.status === 404) ? 'unmatched' : routePath(c, -1);
    observe(METHODS.has(c.req.method) ? c.req.method : 'other', route, c.res.status, (performance.now() - t0) / 1000);
  };
}
