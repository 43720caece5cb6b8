// /api/v1/secrets: PUT /:name {"value": "…"} (admin), GET / (names and times only), DELETE /:name
// (admin). Write-only: no answer ever holds a value, and a refusal never repeats it (the body is
// parsed here, not by the generic reader whose JSON errors quote the input).
import { Hono } from 'hono';
import { DroverError } from '../../core/errors.ts';
import type { SecretStore } from '../../core/secrets/store.ts';
import type { AuditRepo } from '../../core/secrets/types.ts';
import { audit } from '../audit.ts';
import { checkJsonDepth } from '../../core/spec/depth.ts';

export function secretsRoutes(secrets: SecretStore, auditRepo?: AuditRepo) {
  return new Hono()
    .get('/', (c) => c.json({ items: secrets.list(), next_cursor: null }))
    .put('/:name', async (c) => {
      const name = c.req.param('name');
      let body: unknown;
      const text = await c.req.text();
      checkJsonDepth(text);
      try { body = JSON.parse(text); } catch { throw new DroverError('invalid_json', 'request body must be JSON: {"value": "<the secret>"}'); }
      if (!body || typeof body !== 'object' || Array.isArray(body) || Object.keys(body).some((k) => k !== 'value')) {
        throw new DroverError('invalid_request', 'request body must be {"value": "<the secret>"} and nothing else', { path: '(body)' });
      }
      const info = await secrets.set(name, (body as { value?: unknown }).value as string);
      audit(auditRepo, c, 'secret_set', name, { created: info.created });
      return c.json({ name: info.name, created_at: info.created_at, updated_at: info.updated_at }, info.created ? 201 : 200);
    })
    .delete('/:name', (c) => {
      const name = c.req.param('name');
      if (!secrets.delete(name)) throw new DroverError('not_found', `no secret named '${name}'`);
      audit(auditRepo, c, 'secret_delete', name);
      return c.json({ ok: true });
    });
}
