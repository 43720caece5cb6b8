// POST /api/v1/hooks/:pipeline: no bearer token, an HMAC-SHA256 signature of the raw body keyed by the
// pipeline's webhook secret (from the secret store: PUT /secrets/:name). Good,
// bad and missing signatures; nothing starts on a 401.
import { test, expect, beforeAll, afterAll } from 'bun:test';
import { createHmac } from 'node:crypto';
import { startServer, type TestServer } from '../helpers/server.ts';
import { register, runsOf } from './helpers.ts';

let s: TestServer;
const SECRET = 'hook-secret-for-tests';
beforeAll(async () => {
  s = await startServer(['--max-parallel', '4']);
  expect((await s.api('PUT', '/secrets/HOOK_KEY', { value: SECRET })).status).toBe(201);
  await register(s, { name: 'hooked', webhook: { secret: 'HOOK_KEY' }, params: { ref: 'none' }, stages: [{ name: 'a', jobs: [{ name: 'j', commands: ['echo ref=${{ params.ref }}'] }] }] });
  await register(s, { name: 'unset-secret', webhook: { secret: 'NOT_SET' }, stages: [{ name: 'a', jobs: [{ name: 'j', commands: ['true'] }] }] });
  await register(s, { name: 'no-hook', stages: [{ name: 'a', jobs: [{ name: 'j', commands: ['true'] }] }] });
});
afterAll(() => s?.stop());

const sign = (body: string, secret = SECRET) => 'sha256=' + createHmac('sha256', secret).update(body).digest('hex');
const hook = (pipeline: string, raw: string, signature?: string) =>
  s.api('POST', `/hooks/${pipeline}`, undefined, { token: null, raw, headers: signature === undefined ? {} : { 'x-drover-signature': signature } });

test('a good signature starts a run whose params are the body\'s fields, with trigger webhook', async () => {
  const body = JSON.stringify({ ref: 'main', n: 3 });
  const r = await hook('hooked', body, sign(body));
  expect(r.status).toBe(201);
  expect(r.body.run.params).toMatchObject({ ref: 'main', n: 3 });
  expect(r.body.run.trigger.kind).toBe('webhook');
  const done = await s.waitRun(r.body.run.id);
  expect(done.status).toBe('succeeded');
  expect((await s.api('GET', `/jobs/${done.stages[0].jobs[0].id}/logs`)).text).toBe('ref=main\n');
  // the uppercase hex of the same MAC is the same signature
  const upper = await hook('hooked', body, 'sha256=' + sign(body).slice('sha256='.length).toUpperCase());
  expect(upper.status).toBe(201);
});

test('bad or missing signatures are 401 and start nothing', async () => {
  const before = (await runsOf(s, 'hooked')).length;
  const body = JSON.stringify({ ref: 'evil' });
  const cases: [string, string | undefined][] = [
    ['missing', undefined],
    ['wrong secret', sign(body, 'not-the-secret')],
    ['signature of another body', sign(JSON.stringify({ ref: 'main' }))],
    ['not hex', 'sha256=zzzz'],
    ['no scheme', createHmac('sha256', SECRET).update(body).digest('hex')],
    ['empty', ''],
  ];
  for (const [what, sig] of cases) {
    const r = await hook('hooked', body, sig);
    expect(`${what}: ${r.status}`).toBe(`${what}: 401`);
    expect(r.body.error.code).toBe('unauthorized');
  }
  // a secret the server does not have: refused whatever the signature
  const r = await hook('unset-secret', body, sign(body, ''));
  expect(r.status).toBe(401);
  expect(r.body.error.message).toContain('drover secret set NOT_SET');
  expect((await runsOf(s, 'hooked')).length).toBe(before);
  expect(await runsOf(s, 'unset-secret')).toHaveLength(0);
});

test('a pipeline without a webhook, or none at all, is a 404; a signed body that is not an object is a 400', async () => {
  const body = '{}';
  expect((await hook('no-hook', body, sign(body))).status).toBe(404);
  expect((await hook('no-such-pipeline', body, sign(body))).status).toBe(404);
  const arr = '[1,2]';
  expect((await hook('hooked', arr, sign(arr))).status).toBe(400);
  // the rest of the API still wants a token
  expect((await s.api('GET', '/runs', undefined, { token: null })).status).toBe(401);
});
