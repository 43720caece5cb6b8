// Bad input through the real HTTP API: every refusal is the documented 4xx with the error envelope
// {error: {code, message, details}}, never a 500, and nothing is written (runs, groups, pipelines,
// run folders are counted before and after).
import { test, expect, beforeAll, afterAll, describe } from 'bun:test';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, type TestServer, type ApiResponse } from '../helpers/server.ts';

let s: TestServer;

beforeAll(async () => {
  s = await startServer(['--max-parallel', '2', '--max-body', '10000', '--max-sweep', '5']);
});
afterAll(async () => {
  await s?.stop();
});

const ok = (name = 'good') => ({ name, stages: [{ name: 'main', jobs: [{ name: 'job', commands: ['echo hi'] }] }] });

async function counts() {
  const runs = await s.api('GET', '/runs?limit=1000');
  const groups = await s.api('GET', '/groups?limit=1000');
  const pipelines = await s.api('GET', '/pipelines');
  expect(runs.status).toBe(200);
  expect(groups.status).toBe(200);
  expect(pipelines.status).toBe(200);
  const runsDir = join(s.dataDir, 'runs');
  return {
    runs: runs.body.items.length,
    groups: groups.body.items.length,
    pipelines: pipelines.body.items.map((p: any) => `${p.name}@${p.version}`).sort(),
    runDirs: existsSync(runsDir) ? readdirSync(runsDir).length : 0,
  };
}

function expectError(r: ApiResponse, status: number, code?: string | string[]) {
  if (r.status !== status) throw new Error(`expected ${status}, got ${r.status}: ${r.text}`);
  expect(r.status).not.toBe(500);
  expect(r.body).toBeObject();
  expect(r.body.error).toBeObject();
  expect(typeof r.body.error.code).toBe('string');
  expect(r.body.error.code).toMatch(/^[a-z][a-z0-9_]*$/);
  expect(typeof r.body.error.message).toBe('string');
  expect(r.body.error.message.length).toBeGreaterThan(0);
  expect(r.body.error.details).toBeObject();
  if (typeof code === 'string') expect(r.body.error.code).toBe(code);
  else if (code) expect(code).toContain(r.body.error.code);
  return r.body.error as { code: string; message: string; details: Record<string, unknown> };
}

/** Run `fn`, check it answered the error, and that nothing was written. */
async function refused(fn: () => Promise<ApiResponse>, status: number, code?: string | string[]) {
  const before = await counts();
  const r = await fn();
  const err = expectError(r, status, code);
  expect(await counts()).toEqual(before);
  return err;
}

const postSpec = (spec: unknown) => () => s.api('POST', '/runs', { spec });

describe('bad input is refused with the documented 4xx and writes nothing', () => {
  test('malformed JSON → 400 invalid_json', async () => {
    await refused(() => s.api('POST', '/runs', undefined, { raw: '{"spec": {"name": "x", ' }), 400, 'invalid_json');
    await refused(() => s.api('POST', '/pipelines', undefined, { raw: '{"name": "x", "stages": [}' }), 400, 'invalid_json');
  });

  test('a YAML syntax error on POST /pipelines → 400', async () => {
    const yaml = 'name: broken\nstages:\n  - name: main\n    commands: [echo hi\n  - name: other\n    : : :\n';
    const err = await refused(() => s.api('POST', '/pipelines', undefined, { raw: yaml, headers: { 'content-type': 'application/yaml' } }), 400, ['invalid_spec', 'invalid_yaml']);
    expect(err.message).toMatch(/yaml|line/i);
  });

  test('an unknown top-level key → 400 invalid_spec naming the key', async () => {
    const err = await refused(postSpec({ ...ok(), colour: 'red' }), 400, 'invalid_spec');
    expect(err.message).toContain('colour');
    // the same through POST /pipelines
    const err2 = await refused(() => s.api('POST', '/pipelines', { ...ok(), colour: 'red' }), 400, 'invalid_spec');
    expect(err2.message).toContain('colour');
  });

  test('an unknown key nested in a job → 400 invalid_spec naming the key path', async () => {
    const spec = { name: 'nested', stages: [{ name: 'main', jobs: [{ name: 'job', commands: ['echo hi'], comands: ['typo'] }] }] };
    const err = await refused(postSpec(spec), 400, 'invalid_spec');
    expect(err.message).toContain('comands');
    expect(err.message).toContain('stages[0].jobs[0]');
  });

  test('a 2-stage cycle → 400 naming the cycle', async () => {
    const spec = {
      name: 'cyclic',
      stages: [
        { name: 'alpha', needs: ['beta'], jobs: [{ name: 'a', commands: ['true'] }] },
        { name: 'beta', needs: ['alpha'], jobs: [{ name: 'b', commands: ['true'] }] },
      ],
    };
    const err = await refused(postSpec(spec), 400, 'invalid_spec');
    expect(err.message).toMatch(/cycle/i);
    expect(err.message).toContain('alpha');
    expect(err.message).toContain('beta');
  });

  test('unknown needs → 400 naming the stage', async () => {
    const spec = { name: 'unknown-needs', stages: [{ name: 'main', needs: ['nowhere'], jobs: [{ name: 'j', commands: ['true'] }] }] };
    const err = await refused(postSpec(spec), 400, 'invalid_spec');
    expect(err.message).toContain('nowhere');
  });

  test('unknown executor → 400 unknown_executor', async () => {
    const spec = { name: 'bad-exec', stages: [{ name: 'main', jobs: [{ name: 'j', executor: 'quantum', commands: ['true'] }] }] };
    const err = await refused(postSpec(spec), 400, 'unknown_executor');
    expect(err.message).toContain('quantum');
  });

  test('a bad duration (timeout: 5 minutes) → 400 naming the field', async () => {
    const spec = { name: 'bad-duration', timeout: '5 minutes', stages: [{ name: 'main', jobs: [{ name: 'j', commands: ['true'] }] }] };
    const err = await refused(postSpec(spec), 400, 'invalid_spec');
    expect(err.message).toContain('timeout');
    const jobLevel = { name: 'bad-duration', stages: [{ name: 'main', jobs: [{ name: 'j', timeout: '5 minutes', commands: ['true'] }] }] };
    const err2 = await refused(postSpec(jobLevel), 400, 'invalid_spec');
    expect(err2.message).toContain('timeout');
  });

  test('a workspace outside the root → 400 workspace_escape', async () => {
    await refused(postSpec({ ...ok('escape'), workspace: '/etc' }), 400, 'workspace_escape');
    await refused(postSpec({ ...ok('escape'), workspace: '../../../../../../etc' }), 400, 'workspace_escape');
  });

  test('a missing workspace → 400', async () => {
    const err = await refused(postSpec({ ...ok('missing-ws'), workspace: join(s.root, 'does-not-exist') }), 400);
    expect(err.message).toContain('does-not-exist');
  });

  test('rm -rf / → 400 rejected_by_validator', async () => {
    const spec = { name: 'danger', stages: [{ name: 'main', jobs: [{ name: 'j', commands: ['echo ok', 'rm -rf /'] }] }] };
    await refused(postSpec(spec), 400, 'rejected_by_validator');
  });

  test('a body over --max-body → 413 payload_too_large', async () => {
    const spec = { ...ok('too-big'), description: 'x'.repeat(20_000) };
    await refused(() => s.api('POST', '/runs', { spec }), 413, 'payload_too_large');
    await refused(() => s.api('POST', '/pipelines', spec), 413, 'payload_too_large');
    // a chunked body (no Content-Length) is cut off at the limit too
    const bytes = new TextEncoder().encode(JSON.stringify({ spec }));
    const chunked = async (): Promise<ApiResponse> => {
      const body = new ReadableStream<Uint8Array>({
        start(c) { for (let i = 0; i < bytes.length; i += 1000) c.enqueue(bytes.slice(i, i + 1000)); c.close(); },
      });
      const res = await fetch(`${s.url}/api/v1/runs`, {
        method: 'POST', headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/json' }, body, duplex: 'half',
      } as RequestInit);
      const text = await res.text();
      let parsed: any = text;
      try { parsed = JSON.parse(text); } catch { /* text */ }
      return { status: res.status, body: parsed, text, headers: res.headers };
    };
    await refused(chunked, 413, 'payload_too_large');
  });

  test('an empty body or a body that is not an object → 400', async () => {
    await refused(() => s.api('POST', '/runs', undefined, { raw: '' }), 400, 'invalid_json');
    await refused(() => s.api('POST', '/runs', [1, 2]), 400);
    await refused(() => s.api('POST', '/runs', 'just a string'), 400);
    await refused(() => s.api('POST', '/runs', { spec: ok('extra-key'), colour: 'red' }), 400);
  });

  test('a matrix over --max-sweep → 400', async () => {
    const spec = { ...ok('big-sweep'), matrix: { a: [1, 2, 3], b: [1, 2] } };
    const err = await refused(postSpec(spec), 400);
    expect(err.message).toMatch(/6/);
    // and the dry run refuses it too
    await refused(() => s.api('POST', '/runs?dry_run=true', { spec }), 400);
  });

  test('no token and a wrong token → 401 unauthorized', async () => {
    await refused(() => s.api('GET', '/runs', undefined, { token: null }), 401, 'unauthorized');
    await refused(() => s.api('POST', '/runs', { spec: ok('no-token') }, { token: null }), 401, 'unauthorized');
    await refused(() => s.api('GET', '/runs', undefined, { token: 'drv_not-a-real-token' }), 401, 'unauthorized');
    await refused(() => s.api('POST', '/runs', { spec: ok('bad-token') }, { token: 'drv_not-a-real-token' }), 401, 'unauthorized');
  });

  test('a reader token cannot POST /runs (403) but can GET /runs', async () => {
    const t = await s.api('POST', '/tokens', { role: 'reader', name: 'test-reader' });
    expect(t.status).toBe(201);
    expect(t.body.role).toBe('reader');
    const reader = t.body.token as string;
    await refused(() => s.api('POST', '/runs', { spec: ok('reader-submit') }, { token: reader }), 403, 'forbidden');
    const list = await s.api('GET', '/runs', undefined, { token: reader });
    expect(list.status).toBe(200);
    expect(Array.isArray(list.body.items)).toBe(true);
  });

  test('a user token cannot POST /tokens (403)', async () => {
    const t = await s.api('POST', '/tokens', { role: 'user', name: 'test-user' });
    expect(t.status).toBe(201);
    const user = t.body.token as string;
    const tokensBefore = (await s.api('GET', '/tokens')).body.items.length;
    await refused(() => s.api('POST', '/tokens', { role: 'admin' }, { token: user }), 403, 'forbidden');
    expect((await s.api('GET', '/tokens')).body.items.length).toBe(tokensBefore);
  });

  test('an unknown run id → 404 not_found', async () => {
    await refused(() => s.api('GET', '/runs/r_doesnotexist'), 404, 'not_found');
    await refused(() => s.api('POST', '/runs/r_doesnotexist/cancel'), 404, 'not_found');
    await refused(() => s.api('GET', '/jobs/j_doesnotexist'), 404, 'not_found');
  });

  test('pausing a finished group → 409', async () => {
    const out = await s.submit(ok('finishes'));
    const run = await s.waitRun(out.run.id);
    expect(run.status).toBe('succeeded');
    const groupId = run.group_id;
    const g = await s.waitGroup(groupId);
    expect(g.status).toBe('succeeded');
    await refused(() => s.api('POST', `/groups/${groupId}/pause`), 409);
    expect((await s.api('GET', `/groups/${groupId}`)).body.status).toBe('succeeded');
  });

  test('GET /healthz works without a token; /metrics needs one', async () => {
    const h = await s.api('GET', '/healthz', undefined, { token: null });
    expect(h.status).toBe(200);
    expect(h.body.ok).toBe(true);
    expect(typeof h.body.version).toBe('string');
    expectError(await s.api('GET', '/metrics', undefined, { token: null }), 401, 'unauthorized');
    expectError(await s.api('GET', '/metrics', undefined, { token: 'drv_wrong' }), 401, 'unauthorized');
    const m = await s.api('GET', '/metrics');
    expect(m.status).toBe(200);
    expect(m.text).toContain('drover_up 1');
  });

  test('control: a valid YAML pipeline on POST /pipelines is accepted', async () => {
    const yaml = 'name: yaml-ok\nstages:\n  - name: main\n    jobs:\n      - name: j\n        commands: [echo hi]\n';
    const r = await s.api('POST', '/pipelines', undefined, { raw: yaml, headers: { 'content-type': 'application/yaml' } });
    expect(r.status).toBe(201);
    expect(r.body.name).toBe('yaml-ok');
    expect(r.body.version).toBe(1);
  });
});

// a workspace that exists under the root is accepted (control for the workspace checks above)
test('control: an existing workspace under the root is accepted', async () => {
  const ws = join(s.root, 'ok-ws');
  mkdirSync(ws, { recursive: true });
  const out = await s.submit({ ...ok('ws-ok'), workspace: ws });
  const run = await s.waitRun(out.run.id);
  expect(run.status).toBe('succeeded');
});
