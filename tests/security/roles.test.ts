// Roles everywhere (#7): every route × every role (admin, user, reader, agent, none) against the
// status it must answer, from one table. Writes are sent with input that is refused after the auth
// check (400/404) or that changes nothing, so the table runs in any order. An agent token can do
// nothing but its agent endpoints; GET /audit lists who did what.
import { test, expect, beforeAll, afterAll, describe } from 'bun:test';
import { startServer, type TestServer } from '../helpers/server.ts';
import { WsClient } from '../ws/helpers.ts';

type Role = 'admin' | 'user' | 'reader' | 'agent' | 'none';
const ROLES: Role[] = ['admin', 'user', 'reader', 'agent', 'none'];
/** who may: the permission a route needs; `ok` is its status for those who may */
type Need = 'open' | 'read' | 'write' | 'admin' | 'agent' | 'signature';
const GRANTS: Record<Role, Need[]> = {
  admin: ['open', 'read', 'write', 'admin', 'agent'], user: ['open', 'read', 'write'], reader: ['open', 'read'], agent: ['open', 'agent'], none: ['open'],
};

let s: TestServer;
const tokens: Record<Role, string | null> = { admin: '', user: '', reader: '', agent: '', none: null };
let ids: { run: string; job: string; group: string };

beforeAll(async () => {
  s = await startServer(['--max-parallel', '2', '--rate-limit', '0']);
  tokens.admin = s.token;
  for (const role of ['user', 'reader', 'agent'] as const) tokens[role] = (await s.api('POST', '/tokens', { role, name: `matrix-${role}` })).body.token;
  await s.api('POST', '/pipelines', { name: 'matrix', stages: [{ name: 'a', commands: ['echo hi'] }] });
  const out = await s.submit({ name: 'matrix', stages: [{ name: 'a', commands: ['echo hi'] }] });
  const run = await s.waitRun(out.run.id);
  ids = { run: run.id, job: run.stages[0].jobs[0].id, group: run.group_id };
  await Bun.sleep(200); // attestation.json
});
afterAll(() => s?.stop());

const NO = 'j_doesnotexist', NOR = 'r_doesnotexist', NOG = 'g_doesnotexist';
/** [method, path, body, needs, status when allowed] */
const ROUTES: () => [string, string, unknown, Need, number][] = () => [
  ['GET', '/healthz', undefined, 'open', 200],
  ['GET', '/', undefined, 'open', 200],
  ['GET', '/metrics', undefined, 'read', 200],
  ['POST', '/runs', {}, 'write', 400],
  ['POST', '/runs?dry_run=true', { pipeline: 'matrix' }, 'write', 200],
  ['GET', '/runs', undefined, 'read', 200],
  ['GET', `/runs/${ids.run}`, undefined, 'read', 200],
  ['POST', `/runs/${NOR}/cancel`, undefined, 'write', 404],
  ['POST', `/runs/${NOR}/retry`, undefined, 'write', 404],
  ['GET', `/runs/${ids.run}/graph`, undefined, 'read', 200],
  ['GET', `/runs/${ids.run}/attestation`, undefined, 'read', 200],
  ['GET', '/jobs', undefined, 'read', 200],
  ['GET', `/jobs/${ids.job}`, undefined, 'read', 200],
  ['GET', `/jobs/${ids.job}/why`, undefined, 'read', 200],
  ['GET', `/jobs/${ids.job}/logs`, undefined, 'read', 200],
  ['POST', `/jobs/${NO}/cancel`, undefined, 'write', 404],
  ['GET', '/groups', undefined, 'read', 200],
  ['GET', `/groups/${ids.group}`, undefined, 'read', 200],
  ['POST', `/groups/${NOG}/pause`, undefined, 'write', 404],
  ['POST', `/groups/${NOG}/resume`, undefined, 'write', 404],
  ['POST', `/groups/${NOG}/cancel`, undefined, 'write', 404],
  ['POST', '/pipelines', {}, 'write', 400],
  ['GET', '/pipelines', undefined, 'read', 200],
  ['GET', '/pipelines/matrix', undefined, 'read', 200],
  ['POST', '/topics/t/events', '{broken', 'write', 400],
  ['GET', '/topics/t/events', undefined, 'read', 200],
  ['GET', '/topics/t/events/ev_none', undefined, 'read', 404],
  ['GET', '/queue', undefined, 'read', 200],
  ['POST', '/ws-ticket', undefined, 'read', 201],
  ['GET', `/groups/${ids.group}/results`, undefined, 'read', 200],
  ['GET', '/runs?collapse=group&trigger=api', undefined, 'read', 200],
  ['GET', '/events', undefined, 'read', 200],
  ['GET', '/secrets', undefined, 'read', 200],
  ['PUT', '/secrets/MATRIX_X', {}, 'admin', 400],
  ['DELETE', '/secrets/MATRIX_NONE', undefined, 'admin', 404],
  ['POST', '/tokens', {}, 'admin', 400],
  ['GET', '/tokens', undefined, 'admin', 200],
  ['DELETE', '/tokens/t_none', undefined, 'admin', 404],
  ['GET', '/audit', undefined, 'admin', 200],
  ['POST', '/gc?dry_run=maybe', undefined, 'admin', 400],
  ['POST', '/gc?dry_run=true', undefined, 'admin', 200],
  ['POST', '/agents/claim', { agent: 'matrix', executors: ['no-such-executor'], wait_s: 0 }, 'agent', 204],
  ['POST', `/jobs/${NO}/heartbeat`, { lease_token: 'x' }, 'agent', 404],
  ['POST', `/jobs/${NO}/logs?command=0&offset=0`, 'chunk', 'agent', 404],
  ['POST', `/jobs/${NO}/complete`, { lease_token: 'x', commands: [] }, 'agent', 404],
  // webhooks carry a signature instead of a token: the same answer whoever asks
  ['POST', '/hooks/matrix', '{}', 'signature', 404],
];

const expected = (need: Need, ok: number, role: Role) =>
  need === 'signature' ? ok : GRANTS[role].includes(need) ? ok : role === 'none' ? 401 : 403;

async function call(method: string, path: string, body: unknown, token: string | null) {
  const url = s.url + (path === '/healthz' || path === '/metrics' || path === '/' ? path : `/api/v1${path}`);
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(url, { method, headers, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
  await res.arrayBuffer();
  return res.status;
}

test('every route × every role answers the status the table says', async () => {
  const got: string[] = [], want: string[] = [];
  for (const [method, path, body, need, ok] of ROUTES()) {
    for (const role of ROLES) {
      got.push(`${role.padEnd(6)} ${method} ${path} → ${await call(method, path, body, tokens[role])}`);
      want.push(`${role.padEnd(6)} ${method} ${path} → ${expected(need, ok, role)}`);
    }
  }
  expect(got).toEqual(want);
});

test('the WebSocket: no token 401, agent 403, every reading role 101', async () => {
  for (const role of ROLES) {
    let status = 101;
    try { (await WsClient.open(s, { token: tokens[role] })).close(); } catch (e) { status = (e as { status: number }).status; }
    expect(`${role}: ${status}`).toBe(`${role}: ${role === 'none' ? 401 : role === 'agent' ? 403 : 101}`);
  }
});

describe('GET /audit', () => {
  test('lists who did what: submit, cancel, pause, resume, retry, secret set/delete, token create/delete, gc', async () => {
    const user = tokens.user!;
    const sweep = (await s.api('POST', '/runs', { spec: { name: 'audited', matrix: { n: [1, 2] }, stages: [{ name: 'a', commands: ['sleep 5'] }] } }, { token: user })).body;
    const g = sweep.group.id;
    await s.api('POST', `/groups/${g}/pause`, undefined, { token: user });
    await s.api('POST', `/groups/${g}/resume`, undefined, { token: user });
    await s.api('POST', `/runs/${sweep.runs[0].id}/cancel`, undefined, { token: user });
    await s.api('POST', `/groups/${g}/cancel`, undefined, { token: user });
    await s.waitGroup(g);
    await s.api('POST', `/runs/${sweep.runs[0].id}/retry`, undefined, { token: user });
    await s.api('POST', `/runs/${sweep.runs[0].id}/cancel`, undefined, { token: user });
    await s.api('PUT', '/secrets/AUDITED', { value: 'audited-value' });
    await s.api('DELETE', '/secrets/AUDITED');
    const t = (await s.api('POST', '/tokens', { role: 'reader', name: 'short-lived' })).body;
    await s.api('DELETE', `/tokens/${t.id}`);
    await s.api('POST', '/gc');
    const a = await s.api('GET', '/audit?limit=1000');
    expect(a.status).toBe(200);
    const rows = a.body.items.reverse().filter((r: any) => r.seq > 0);
    const seen = rows.map((r: any) => `${r.token_name}/${r.role} ${r.action} ${r.target ?? '-'}`);
    for (const line of [
      `matrix-user/user submit ${g}`, `matrix-user/user pause ${g}`, `matrix-user/user resume ${g}`, `matrix-user/user cancel ${sweep.runs[0].id}`,
      `matrix-user/user cancel ${g}`, `matrix-user/user retry ${sweep.runs[0].id}`, 'admin/admin secret_set AUDITED', 'admin/admin secret_delete AUDITED',
      `admin/admin token_create ${t.id}`, `admin/admin token_delete ${t.id}`, 'admin/admin gc -',
    ]) expect(seen).toContain(line);
    for (const r of rows) expect(Number.isNaN(Date.parse(r.at))).toBe(false);
    expect(a.text).not.toContain('audited-value');
    expect((await s.api('GET', '/audit?action=gc')).body.items.every((r: any) => r.action === 'gc')).toBe(true);
  });
});
