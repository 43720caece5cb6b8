// The Hono app: /healthz (open), /metrics and /api/v1/* (bearer token, role checks), one onError.
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { randomBytes } from 'node:crypto';
import { DroverError } from '../core/errors.ts';
import { auth, byMethod, need } from './middleware/auth.ts';
import { onError, errorBody } from './errors.ts';
import { runsRoutes } from './routes/runs.ts';
import { jobsRoutes } from './routes/jobs.ts';
import { groupsRoutes } from './routes/groups.ts';
import { pipelinesRoutes } from './routes/pipelines.ts';
import { tokensRoutes } from './routes/tokens.ts';
import { queueRoutes, eventsRoutes } from './routes/queue.ts';
import { renderMetrics } from './metrics.ts';
import { agentClaimRoutes, agentJobRoutes } from './routes/agents.ts';
import { rateLimit } from './middleware/rate-limit.ts';
import { webRoutes } from '../web/routes.ts';
import { topicsRoutes } from './routes/topics.ts';
import { hooksRoutes } from './routes/hooks.ts';
import { secretsRoutes } from './routes/secrets.ts';
import { auditRoutes } from './routes/audit.ts';
import { gcRoutes } from './routes/gc.ts';
import { attestationRoutes } from './routes/attestation.ts';
import { allocRoutes } from './routes/alloc.ts';
import { wsTicketRoutes } from './routes/ws-ticket.ts';
import { redactAnswers } from './middleware/redact.ts';
import { httpMetrics } from './middleware/http-metrics.ts';
import type { TriggerService } from '../core/triggers/index.ts';
import type { ServerDeps } from './deps.ts';

export function createApp(d: ServerDeps & { triggers?: TriggerService }) {
  const app = new Hono();
  app.onError(onError(d.log));
  app.notFound((c) => c.json(errorBody('not_found', `no route ${c.req.method} ${c.req.path}`), 404));
  if (d.metrics) app.use('*', httpMetrics(d.metrics.observeHttp));
  app.use('*', async (c, next) => {
    c.set('requestId' as never, (c.req.header('x-request-id') ?? randomBytes(6).toString('hex')) as never);
    await next();
  });
  app.use('*', bodyLimit({
    maxSize: d.maxBody,
    onError: () => { throw new DroverError('payload_too_large', `request body is larger than the limit of ${d.maxBody} bytes (--max-body)`, { limit: d.maxBody }); },
  }));
  app.get('/healthz', (c) => c.json({ ok: true, version: d.version }));
  const store = d.core.access;
  app.get('/metrics', auth({ store }), need('read'), (c) => c.text(renderMetrics(d), 200, { 'content-type': 'text/plain; version=0.0.4' }));

  const api = new Hono();
  api.use('*', auth({ store }));
  if (d.secrets) api.use('*', redactAnswers({ secrets: d.secrets })); // no answer ever carries a secret value
  // an answer to a write is an acknowledgement: it leaves only once the change is on stable storage
  api.use('*', async (c, next) => {
    await next();
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD' && !c.req.path.endsWith('/ws-ticket')) { // (a ticket is memory only: nothing to wait for)
      try { await d.core.durable(); } catch (err) { throw new DroverError('storage_unavailable', `could not make the change durable: ${String(err)}`); }
    }
  });
  api.use('*', rateLimit({ perSecond: d.rateLimit ?? 500 }));
  api.use('*', async (c, next) => {
    if (d.shuttingDown?.() && c.req.method === 'POST' && (c.req.path.endsWith('/runs') || c.req.path.endsWith('/agents/claim'))) {
      throw new DroverError('shutting_down', 'the server is shutting down; retry against the next one');
    }
    await next();
  });
  // agent endpoints come before the read/write role check: they need the agent permission instead
  api.use('/agents/*', need('agent'));
  api.use('/jobs/:id/heartbeat', need('agent'));
  api.use('/jobs/:id/complete', need('agent'));
  api.on('POST', '/jobs/:id/logs', need('agent'));
  api.route('/agents', agentClaimRoutes(d.broker));
  api.route('/jobs', agentJobRoutes(d.broker));
  // a WebSocket ticket needs only read (a reader's page is live too): answered ahead of byMethod
  if (d.tickets) { api.use('/ws-ticket', need('read')); api.route('/ws-ticket', wsTicketRoutes(d.tickets)); }
  api.use('/tokens/*', need('admin'));
  api.use('/tokens', need('admin'));
  api.on(['PUT', 'DELETE'], ['/secrets', '/secrets/*'], need('admin'));
  for (const p of ['/audit', '/audit/*', '/gc', '/gc/*']) api.use(p, need('admin'));
  api.on(['POST', 'DELETE'], ['/alloc', '/alloc/*'], need('admin')); // a queue submits to the cluster and mints agent tokens
  api.use('*', byMethod());
  api.route('/runs', runsRoutes(d));
  api.route('/jobs', jobsRoutes(d));
  api.route('/groups', groupsRoutes(d));
  api.route('/pipelines', pipelinesRoutes(d, d.triggers));
  if (d.triggers) api.route('/topics', topicsRoutes(d, d.triggers));
  api.route('/tokens', tokensRoutes(d));
  api.route('/queue', queueRoutes(d));
  api.route('/events', eventsRoutes(d));
  if (d.secrets) api.route('/secrets', secretsRoutes(d.secrets, d.audit));
  if (d.audit) api.route('/audit', auditRoutes(d.audit));
  if (d.gc) api.route('/gc', gcRoutes(d.gc, d.audit));
  if (d.alloc) api.route('/alloc', allocRoutes(d, d.alloc));
  if (d.attestor) api.route('/runs', attestationRoutes(d, d.attestor));
  // webhooks carry a signature instead of a bearer token: mounted ahead of the api's token check
  if (d.triggers && d.secrets) app.use('/api/v1/hooks/*', redactAnswers({ secrets: d.secrets }));
  if (d.triggers) app.route('/api/v1/hooks', hooksRoutes(d, d.triggers));
  app.route('/api/v1', api);
  app.route('/', webRoutes()); // the web page and its embedded assets (no token: they hold no data)
  return app;
}
