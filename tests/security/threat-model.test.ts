// Issue 14 #10: the defaults match the threat model (README "Security"). A `user` token can run code as
// the server's Unix user — that is what submitting a job means — but no API path hands it the admin
// token by itself: not the routes (403), not a credential inherited from the server's environment, not
// a link to admin.token left where drover reads logs or outputs.
import { test, expect, beforeAll, afterAll } from 'bun:test';
import { join } from 'node:path';
import { startServer, oneStage, type TestServer } from '../helpers/server.ts';

const SERVER_ENV_TOKEN = 'admin-token-in-the-servers-env-5b1d';
let s: TestServer;
let user: string;
beforeAll(async () => {
  s = await startServer([], { env: { DROVER_TOKEN: SERVER_ENV_TOKEN } });
  user = (await s.api('POST', '/tokens', { role: 'user', name: 'someone' })).body.token;
});
afterAll(async () => { await s?.stop(); });

const asUser = (method: string, path: string, body?: unknown) => s.api(method, path, body, { token: user });

test('a user job does not inherit a token from the server\'s environment', async () => {
  const r = await asUser('POST', '/runs', { spec: oneStage('env', ['echo "tok=${DROVER_TOKEN:-none}"']) });
  expect(r.status).toBe(201);
  const run = await s.waitRun(r.body.run.id);
  const log = (await asUser('GET', `/jobs/${run.stages[0].jobs[0].id}/logs`)).text;
  expect(log).toBe('tok=none\n');
});

test('no API path gives a user token the admin token', async () => {
  const admin = join(s.dataDir, 'admin.token');
  for (const [method, path] of [['GET', '/tokens'], ['POST', '/tokens'], ['GET', '/audit'], ['POST', '/gc?dry_run=true']] as const) {
    expect((await asUser(method, path, method === 'POST' ? { role: 'admin' } : undefined)).status).toBe(403);
  }
  const r = await asUser('POST', '/runs', { spec: oneStage('link', [
    `rm -f "$DROVER_JOB_DIR/logs/0.log"; ln -s '${admin}' "$DROVER_JOB_DIR/logs/0.log"; ln -s '${admin}' "$DROVER_OUTPUT"`,
    'echo after',
  ]) });
  const run = await s.waitRun(r.body.run.id);
  const job = run.stages[0].jobs[0].id;
  const everything = [
    JSON.stringify(run), JSON.stringify((await asUser('GET', `/jobs/${job}`)).body),
    (await asUser('GET', `/jobs/${job}/logs`)).text, (await asUser('GET', `/jobs/${job}/logs?command=0`)).text,
  ].join('\n');
  expect(everything).not.toContain(s.token);
  expect((await asUser('GET', `/jobs/${job}`)).body.reason).toBe('unsafe_file');
});
