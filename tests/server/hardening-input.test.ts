// Issue 14 (#6, #7, #9): deep nesting, NUL in pipeline env, and loose query parameters are each a 400
// naming the problem (never a 500, never the internal error text), and nothing is created.
import { test, expect, beforeAll, afterAll } from 'bun:test';
import { startServer, oneStage, type TestServer, type ApiResponse } from '../helpers/server.ts';
import { WsClient } from '../ws/helpers.ts';

let s: TestServer;
beforeAll(async () => { s = await startServer(['--max-body', String(4 << 20)]); });
afterAll(async () => { await s?.stop(); });

const runCount = async () => (await s.api('GET', '/runs?limit=1000')).body.items.length;

function expect400(r: ApiResponse, mention: string | RegExp) {
  if (r.status !== 400) throw new Error(`expected 400, got ${r.status}: ${r.text.slice(0, 300)}`);
  expect(r.body.error.message).toMatch(mention);
  expect(r.body.error.message).not.toMatch(/call stack|RangeError/i);
}

test('a 100,000-deep array in POST /runs is a 400 naming the nesting limit', async () => {
  const before = await runCount();
  const deep = '['.repeat(100_000) + ']'.repeat(100_000);
  const r = await s.api('POST', '/runs', undefined, { raw: `{"spec": ${JSON.stringify(oneStage('deep', ['true']))}, "params": {"x": ${deep}}}` });
  expect400(r, /nested deeper than the limit of 64/);
  expect(r.body.error.details.limit).toBe(64);
  expect(await runCount()).toBe(before);
});

test('deep JSON and YAML specs in POST /pipelines are a 400 naming the limit', async () => {
  for (const depth of [65, 10_000]) {
    const json = `{"name": "deep", "x": ${'['.repeat(depth)}${']'.repeat(depth)}}`;
    expect400(await s.api('POST', '/pipelines', undefined, { raw: json }), /nested deeper than the limit of 64/);
    const flow = `name: deep\nx: ${'['.repeat(depth)}${']'.repeat(depth)}\n`;
    expect400(await s.api('POST', '/pipelines', undefined, { raw: flow, headers: { 'content-type': 'application/yaml' } }), /nested deeper than the limit of 64/);
  }
  let block = 'name: deep\nx:\n';
  for (let i = 1; i <= 80; i++) block += `${'  '.repeat(i)}k${i}:\n`;
  expect400(await s.api('POST', '/pipelines', undefined, { raw: block + `${'  '.repeat(81)}v: 1\n`, headers: { 'content-type': 'application/yaml' } }), /nested deeper than the limit of 64/);
  // exactly at the limit still parses (and fails only as a spec)
  const ok = await s.api('POST', '/pipelines', undefined, { raw: `{"name": "deep", "x": ${'['.repeat(63)}${']'.repeat(63)}}` });
  expect(ok.status).toBe(400);
  expect(ok.body.error.message).not.toMatch(/nested deeper/);
});

test('a YAML alias bomb is a 400, not a hang or a 500', async () => {
  let t = 'name: bomb\nx0: &a0 [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n';
  for (let i = 1; i <= 6; i++) t += `x${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(', ')}]\n`;
  const r = await s.api('POST', '/pipelines', undefined, { raw: t, headers: { 'content-type': 'application/yaml' } });
  expect400(r, /limit of 1000000 values|aliasing/i);
});

test('a deep WebSocket message is refused with an error frame, and the socket stays usable', async () => {
  const c = await WsClient.open(s);
  c.ws.send('{"op": ' + '['.repeat(1000) + ']'.repeat(1000) + '}');
  const err = await c.waitFor((m) => m.type === 'error', { what: 'the error frame' });
  expect(err.message).toMatch(/nested deeper than the limit of 64/);
  c.send({ op: 'subscribe', channel: 'status' });
  await c.waitFor((m) => m.type === 'subscribed', { what: 'the ack after the refusal' });
  c.ws.close();
});

test('NUL in a pipeline-level env value is a 400 naming the key; nothing is created', async () => {
  const before = await runCount();
  for (const spec of [
    { ...oneStage('nul', ['true']), env: { GOOD: 'x', BAD: 'a\u0000b' } },
    { name: 'nul', stages: [{ name: 'main', jobs: [{ name: 'job', commands: ['true'], env: { BAD: 'a\u0000b' } }] }] },
  ]) {
    const r = await s.api('POST', '/runs', { spec });
    expect400(r, /BAD.*NUL/);
    expect(r.body.error.details.path).toMatch(/env\.BAD$/);
  }
  expect(await runCount()).toBe(before);
});

test('bad query parameters are a 400 naming the parameter', async () => {
  const cases: [string, string][] = [
    ['/runs?limit=abc', 'limit'], ['/runs?limit=-1', 'limit'], ['/runs?limit=0', 'limit'], ['/runs?limit=1.5', 'limit'],
    ['/runs?cursor=garbage', 'cursor'], ['/runs?status=bogus', 'status'],
    ['/jobs?status=bogus', 'status'], ['/jobs?limit=abc', 'limit'], ['/groups?status=bogus', 'status'], ['/groups?cursor=x', 'cursor'],
    ['/events?since=abc', 'since'], ['/events?since=-5', 'since'], ['/events?limit=abc', 'limit'],
    ['/audit?limit=abc', 'limit'],
  ];
  for (const [path, name] of cases) {
    const r = await s.api('GET', path);
    if (r.status !== 400) throw new Error(`${path}: expected 400, got ${r.status}`);
    expect(r.body.error.details.path).toBe(name);
    expect(r.body.error.message).toStartWith(`${name}:`);
  }
  // the good forms still work
  for (const path of ['/runs?limit=5&status=succeeded', '/jobs?status=queued', '/events?since=0&limit=10', '/groups?limit=1000']) {
    expect((await s.api('GET', path)).status).toBe(200);
  }
});

test('?dry_run=maybe is a 400 and creates no run', async () => {
  const before = await runCount();
  const r = await s.api('POST', '/runs?dry_run=maybe', { spec: oneStage('dry', ['true']) });
  expect400(r, /^dry_run:/);
  expect(await runCount()).toBe(before);
  expect((await s.api('POST', '/runs?dry_run=true', { spec: oneStage('dry', ['true']) })).status).toBe(200);
  expect(await runCount()).toBe(before);
});
