// /api/v1/hooks/:pipeline — a webhook: no bearer token; instead X-Drover-Signature: sha256=<hex
// HMAC-SHA256 of the raw body> keyed by the secret the pipeline names in `webhook: {secret}`.
// A missing or bad signature is a 401 and nothing starts. Mounted before the token check (app.ts).
import { Hono } from 'hono';
import { SIGNATURE_HEADER, type TriggerService } from '../../core/triggers/index.ts';
import { DroverError } from '../../core/errors.ts';
import type { ServerDeps } from '../deps.ts';

export function hooksRoutes(d: ServerDeps, triggers: TriggerService) {
  return new Hono().post('/:pipeline', async (c) => {
    const body = new Uint8Array(await c.req.arrayBuffer());
    const out = triggers.hook(c.req.param('pipeline'), body, c.req.header(SIGNATURE_HEADER));
    try { await d.core.durable(); } catch (err) { throw new DroverError('storage_unavailable', `could not make the change durable: ${String(err)}`); }
    return c.json(out as object, 201);
  });
}
