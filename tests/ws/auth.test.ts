// Who may open /api/v1/ws: a token in the Authorization header or ?token=; none or a wrong one is a
// 401 at the upgrade, a role without read a 403; deleting a token closes its open sockets.
import { test, expect, beforeAll, afterAll } from 'bun:test';
import { startServer, type TestServer } from '../helpers/server.ts';
import { WsClient, wsUrl } from './helpers.ts';

let s: TestServer;
beforeAll(async () => {
  process.env.DROVER_WS_HEARTBEAT_MS = '300';
  try { s = await startServer(); } finally { delete process.env.DROVER_WS_HEARTBEAT_MS; }
});
afterAll(async () => { await s?.stop(); });

const refused = async (opts: Parameters<typeof WsClient.open>[1]) => {
  const err = await WsClient.open(s, opts).then((c) => { c.close(); return null; }, (e) => e);
  return err?.status;
};

test('no token and a wrong token are refused with 401 at the upgrade', async () => {
  expect(await refused({ token: null })).toBe(401);
  expect(await refused({ token: 'drv_not-a-real-token' })).toBe(401);
  expect(await refused({ token: 'drv_not-a-real-token', via: 'query' })).toBe(401);
  const res = await fetch(wsUrl(s).replace(/^ws/, 'http'), { headers: { upgrade: 'websocket', connection: 'upgrade', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13' } });
  expect(res.status).toBe(401);
  expect((await res.json()).error.code).toBe('unauthorized');
});

test('a token in the header or in ?token= is accepted; an agent token is refused with 403', async () => {
  (await WsClient.open(s)).close();
  (await WsClient.open(s, { via: 'query' })).close();
  const agent = (await s.api('POST', '/tokens', { role: 'agent' })).body.token;
  expect(await refused({ token: agent })).toBe(403);
  const reader = (await s.api('POST', '/tokens', { role: 'reader' })).body.token;
  (await WsClient.open(s, { token: reader })).close();
});

test('heartbeats arrive every few seconds; bad messages get an error and the connection stays open', async () => {
  const c = await WsClient.open(s);
  const hb = await c.waitFor((m) => m.type === 'heartbeat', { timeoutMs: 5_000, what: 'a heartbeat' });
  expect(Date.parse(hb.at)).toBeGreaterThan(Date.now() - 10_000);
  c.ws.send('not json');
  c.send({ op: 'subscribe', channel: 'nope' });
  c.send({ op: 'subscribe', channel: 'logs', job: 'j_doesnotexist' });
  c.send({ op: 'subscribe', channel: 'logs', job: 'j_x', offset: -1 });
  await c.waitFor(() => c.msgs.filter((m) => m.type === 'error').length >= 4, { what: 'four errors' });
  expect(c.msgs.filter((m) => m.type === 'error').map((m) => m.code)).toEqual(['invalid_request', 'invalid_request', 'not_found', 'invalid_request']);
  const n = c.msgs.length;
  await c.waitFor((m) => m.type === 'heartbeat', { from: n, timeoutMs: 5_000, what: 'another heartbeat' });
  c.close();
});

test('deleting a token closes the WebSockets opened with it at once', async () => {
  const t = (await s.api('POST', '/tokens', { role: 'reader', name: 'to-delete' })).body;
  const c = await WsClient.open(s, { token: t.token, via: 'query' });
  const other = await WsClient.open(s);
  c.send({ op: 'subscribe', channel: 'status' });
  await c.waitFor((m) => m.type === 'subscribed', { what: 'the ack' });
  const t0 = Date.now();
  expect((await s.api('DELETE', `/tokens/${t.id}`)).status).toBe(200);
  const closed = await c.waitClosed(5_000);
  expect(Date.now() - t0).toBeLessThan(2_000);
  expect(closed.code).toBe(4001);
  expect(c.msgs.some((m) => m.type === 'error' && m.code === 'unauthorized')).toBe(true);
  expect(other.closed).toBeNull(); // the admin's socket is untouched
  expect(await refused({ token: t.token })).toBe(401);
  other.close();
});

test('a one-time ticket from POST /ws-ticket opens one WebSocket; a replayed, made-up or expired one is refused', async () => {
  const t = await s.api('POST', '/ws-ticket');
  expect(t.status).toBe(201);
  expect(t.body.ticket).toMatch(/^wst_/);
  expect(t.body.ticket).not.toContain(s.token);
  expect(Date.parse(t.body.expires_at) - Date.now()).toBeGreaterThan(20_000);
  expect(Date.parse(t.body.expires_at) - Date.now()).toBeLessThanOrEqual(30_000);
  const c = await WsClient.open(s, { token: null, query: `?ticket=${t.body.ticket}` });
  c.send({ op: 'subscribe', channel: 'status' });
  await c.waitFor((m) => m.type === 'subscribed', { what: 'the ack over a ticket connection' });
  c.close();
  expect(await refused({ token: null, query: `?ticket=${t.body.ticket}` })).toBe(401); // single use
  expect(await refused({ token: null, query: '?ticket=wst_made-up' })).toBe(401);
  // a reader may ask for one (it only reads); no token may not; an agent's ticket is refused at the upgrade
  const reader = (await s.api('POST', '/tokens', { role: 'reader' })).body.token;
  const rt = await s.api('POST', '/ws-ticket', undefined, { token: reader });
  expect(rt.status).toBe(201);
  (await WsClient.open(s, { token: null, query: `?ticket=${rt.body.ticket}` })).close();
  expect((await s.api('POST', '/ws-ticket', undefined, { token: null })).status).toBe(401);
  const agent = (await s.api('POST', '/tokens', { role: 'agent' })).body.token;
  expect((await s.api('POST', '/ws-ticket', undefined, { token: agent })).status).toBe(403);
  // no ticket ever appears in the server's log
  expect(s.stderr).not.toContain(t.body.ticket);
  expect(s.stderr).not.toContain(rt.body.ticket);
});
