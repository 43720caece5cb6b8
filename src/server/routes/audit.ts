// /api/v1/audit (admin): who did what — submit, cancel, pause, resume, retry, secret set/delete,
// token create/delete, gc — newest first, cursor-paged, optionally ?action=.
import { Hono } from 'hono';
import type { AuditRepo } from '../../core/secrets/types.ts';
import { limitOf, cursorOf } from '../deps.ts';

export function auditRoutes(repo: AuditRepo) {
  return new Hono().get('/', (c) => {
    const limit = limitOf(c.req.query('limit'), 100);
    const rows = repo.list({ limit: limit + 1, cursor: cursorOf(c.req.query('cursor')), action: c.req.query('action') || undefined });
    const items = rows.slice(0, limit).map((r) => ({ ...r, details: r.details ? JSON.parse(r.details) : null }));
    return c.json({ items, next_cursor: rows.length > limit ? String(items[items.length - 1]!.seq) : null });
  });
}
