// /api/v1/tokens (admin): create (the token is shown once), list, delete.
import { Hono } from 'hono';
import * as v from 'valibot';
import { DroverError } from '../../core/errors.ts';
import { newId, isoNow } from '../../core/ids.ts';
import { newToken, hashToken, ROLES } from '../../core/tokens.ts';
import { readBody, check } from '../body.ts';
import type { ServerDeps } from '../deps.ts';
import { tokenDeleted } from '../../ws/registry.ts';
import { audit } from '../audit.ts';

const CreateToken = v.strictObject({
  role: v.picklist(ROLES as ['admin', 'user', 'reader', 'agent'], `role: must be one of ${ROLES.join(', ')}`),
  name: v.optional(v.pipe(v.string(), v.maxLength(100))),
});

export function tokensRoutes(d: ServerDeps) {
  const store = d.core.access;
  return new Hono()
    .post('/', async (c) => {
      const body = check(CreateToken, await readBody(c));
      const token = newToken();
      const row = { id: newId('t'), name: body.name ?? `${body.role}-token`, role: body.role, hash: hashToken(token), created_at: isoNow(), last_used_at: null };
      store.insertToken(row);
      audit(d.audit, c, 'token_create', row.id, { name: row.name, role: row.role });
      return c.json({ id: row.id, name: row.name, role: row.role, token, created_at: row.created_at }, 201);
    })
    .get('/', (c) => c.json({ items: store.listTokens(), next_cursor: null }))
    .delete('/:id', (c) => {
      if (!store.deleteToken(c.req.param('id'))) throw new DroverError('not_found', `no token ${c.req.param('id')}`);
      tokenDeleted(c.req.param('id')); // its open WebSockets close now
      audit(d.audit, c, 'token_delete', c.req.param('id'));
      return c.json({ ok: true });
    });
}
