// The secret store (#7): write-only values through PUT/GET/DELETE /secrets and `drover secret`,
// encrypted at rest, refused when too short, required at submit, read at job start, kept across a
// restart, and handed to remote agents in the claim only (which redact before they upload).
import { test, expect, afterEach, describe } from 'bun:test';
import { readFileSync, writeFileSync, existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { Database } from 'bun:sqlite';
import type { Subprocess } from 'bun';
import { startServer, waitFor, oneStage, DROVER_CMD, TestServer } from '../helpers/server.ts';
import { expectNoLeak } from './helpers.ts';

let servers: TestServer[] = [];
let procs: Subprocess[] = [];
afterEach(async () => {
  for (const p of procs) { try { p.kill('SIGKILL'); } catch { /* gone */ } }
  for (const s of servers) await s.stop();
  servers = []; procs = [];
});
const server = async (args: string[] = []) => { const s = await startServer(['--max-parallel', '2', ...args]); servers.push(s); return s; };
const sha = (v: string) => createHash('sha256').update(v).digest('hex');
/** A command that exits 0 only when $NAME holds `value` (compared by hash, so the command line holds no value). */
const hasValue = (name: string, value: string) => `[ "$(printf %s "$${name}" | sha256sum | cut -c1-64)" = "${sha(value)}" ]`;

function cli(s: TestServer, args: string[], stdin?: string) {
  const p = Bun.spawnSync([...DROVER_CMD, ...args], {
    env: { ...process.env, DROVER_URL: s.url, DROVER_TOKEN: s.token }, stdin: stdin === undefined ? 'ignore' : Buffer.from(stdin), stdout: 'pipe', stderr: 'pipe',
  });
  return { code: p.exitCode, out: p.stdout.toString(), err: p.stderr.toString() };
}

describe('the API', () => {
  test('PUT creates (201) then updates (200); GET lists names and times only; DELETE removes (then 404)', async () => {
    const s = await server();
    const v1 = 'first-value-123', v2 = 'second-value-456';
    const a = await s.api('PUT', '/secrets/API_KEY', { value: v1 });
    expect(a.status).toBe(201);
    expect(Object.keys(a.body).sort()).toEqual(['created_at', 'name', 'updated_at']);
    expect((await s.api('PUT', '/secrets/API_KEY', { value: v2 })).status).toBe(200);
    const list = await s.api('GET', '/secrets');
    expect(list.body.items.map((i: any) => Object.keys(i).sort())).toEqual([['created_at', 'name', 'updated_at']]);
    for (const v of [v1, v2]) expectNoLeak(list.text, v, 'GET /secrets');
    expect((await s.api('DELETE', '/secrets/API_KEY')).status).toBe(200);
    expect((await s.api('DELETE', '/secrets/API_KEY')).status).toBe(404);
    expect((await s.api('GET', '/secrets')).body.items).toEqual([]);
  });

  test('refusals (400) never repeat the value: too short, not a string, extra keys, bad JSON, bad or reserved names', async () => {
    const s = await server();
    const cases: [string, string, string][] = [
      ['short', '/secrets/SHORT', JSON.stringify({ value: 'ab3c5' })],
      ['number', '/secrets/NUM', JSON.stringify({ value: 123456789 })],
      ['extra key', '/secrets/EXTRA', JSON.stringify({ value: 'long-enough-value', note: 'x' })],
      ['broken JSON', '/secrets/BROKEN', '{"value": "long-enough-broken'],
      ['bad name', '/secrets/9bad-name', JSON.stringify({ value: 'long-enough-value' })],
      ['reserved name', '/secrets/DROVER_RUN_ID', JSON.stringify({ value: 'long-enough-value' })],
    ];
    for (const [what, path, raw] of cases) {
      const r = await s.api('PUT', path, undefined, { raw });
      expect(`${what}: ${r.status}`).toBe(`${what}: 400`);
      for (const v of ['ab3c5', '123456789', 'long-enough-value', 'long-enough-broken']) expect(r.text).not.toContain(v);
    }
    expect((await s.api('GET', '/secrets')).body.items).toEqual([]);
  });

  test('values are encrypted at rest under a 0600 key (a fresh IV each time), and decrypt after a restart', async () => {
    let s = await server();
    const value = 'restart-proof-secret';
    await s.api('PUT', '/secrets/KEEP', { value });
    await s.api('PUT', '/secrets/KEEP2', { value });
    expect(statSync(join(s.dataDir, 'secrets.key')).mode & 0o777).toBe(0o600);
    const db = new Database(join(s.dataDir, 'drover.db'), { readonly: true });
    const rows = db.query('SELECT name, iv, ciphertext FROM secrets ORDER BY name').all() as any[];
    db.close();
    expect(rows.map((r) => r.name)).toEqual(['KEEP', 'KEEP2']);
    expect(rows[0].ciphertext).not.toBe(rows[1].ciphertext);
    expect(rows[0].iv).not.toBe(rows[1].iv);
    for (const r of rows) expect(Buffer.from(r.ciphertext, 'base64').toString('latin1')).not.toContain(value);
    await s.stop();
    servers = [];
    s = await new TestServer(s.root, s.dataDir, s.args).start();
    servers.push(s);
    const out = await s.submit(oneStage('after-restart', [hasValue('KEEP', value)], { secrets: ['KEEP'] }));
    expect((await s.waitRun(out.run.id)).status).toBe('succeeded');
  });

  test('a submit naming a secret that is not set is a 400 naming it; one deleted before its job starts fails that job (missing_secret)', async () => {
    const s = await server();
    const r = await s.api('POST', '/runs', { spec: oneStage('nope', ['true'], { secrets: ['NOT_THERE', 'ALSO_NOT'] }) });
    expect(r.status).toBe(400);
    expect(r.body.error.message).toContain('NOT_THERE');
    expect(r.body.error.details.missing).toEqual(['NOT_THERE', 'ALSO_NOT']);
    await s.api('PUT', '/secrets/GONE_SOON', { value: 'soon-to-be-deleted' });
    const spec = { name: 'two-stages', secrets: ['GONE_SOON'], stages: [
      { name: 'a', commands: ['sleep 0.8'] },
      { name: 'b', needs: ['a'], commands: ['echo should-not-run'] },
    ] };
    const out = await s.submit(spec);
    await waitFor(async () => (await s.api('GET', `/runs/${out.run.id}`)).body.status === 'running');
    expect((await s.api('DELETE', '/secrets/GONE_SOON')).status).toBe(200);
    const run = await s.waitRun(out.run.id);
    expect(run.status).toBe('failed');
    expect(run.stages[1].jobs[0].reason).toBe('missing_secret');
    expect(run.stages[1].jobs[0].message).toContain('GONE_SOON');
  });

  test('only admins set or delete secrets; users and readers may list names; an env key may not shadow a secret', async () => {
    const s = await server();
    const user = (await s.api('POST', '/tokens', { role: 'user' })).body.token;
    const reader = (await s.api('POST', '/tokens', { role: 'reader' })).body.token;
    expect((await s.api('PUT', '/secrets/X_SECRET', { value: 'user-wants-it' }, { token: user })).status).toBe(403);
    await s.api('PUT', '/secrets/X_SECRET', { value: 'admin-sets-it' });
    expect((await s.api('DELETE', '/secrets/X_SECRET', undefined, { token: user })).status).toBe(403);
    expect((await s.api('GET', '/secrets', undefined, { token: reader })).body.items.map((i: any) => i.name)).toEqual(['X_SECRET']);
    const clash = await s.api('POST', '/runs', { spec: oneStage('clash', ['true'], { secrets: ['X_SECRET'], env: { X_SECRET: 'plain' } }) }, { token: user });
    expect(clash.status).toBe(400);
    expect(clash.body.error.message).toContain('X_SECRET');
  });
});

test('drover secret set (value on stdin, never an argument), ls and rm', async () => {
  const s = await server();
  const value = 'from-stdin-value-42';
  const set = cli(s, ['secret', 'set', 'CLI_TOKEN'], value + '\n');
  expect(set.code).toBe(0);
  expect(set.out + set.err).not.toContain(value);
  const ls = cli(s, ['secret', 'ls']);
  expect(ls.code).toBe(0);
  expect(ls.out).toContain('CLI_TOKEN');
  expect(ls.out).not.toContain(value);
  // the trailing newline of `echo` is not part of the value
  const out = await s.submit(oneStage('cli-secret', [hasValue('CLI_TOKEN', value)], { secrets: ['CLI_TOKEN'] }));
  expect((await s.waitRun(out.run.id)).status).toBe('succeeded');
  const onArgv = cli(s, ['secret', 'set', 'CLI_TOKEN', 'value-on-argv']);
  expect(onArgv.code).toBe(2);
  expect(onArgv.err).toContain('usage');
  expect(cli(s, ['secret', 'set', 'EMPTY'], '').code).toBe(2);
  expect(cli(s, ['secret', 'set', 'SHORT'], 'abc').code).toBe(2);
  expect(cli(s, ['secret', 'rm', 'CLI_TOKEN']).code).toBe(0);
  expect(cli(s, ['secret', 'ls']).out).toContain('no secrets');
});

test('a remote agent gets a job\'s secrets in the claim only, and uploads redacted logs and outputs', async () => {
  const s = await server(['--lease-ttl', '3s']);
  const value = 'agent-side-secret-Zq9';
  await s.api('PUT', '/secrets/AGENT_TOK', { value });
  const token = (await s.api('POST', '/tokens', { role: 'agent', name: 'sec-agent' })).body.token;
  const spec = { name: 'agent-secret', secrets: ['AGENT_TOK'], stages: [{ name: 'main', jobs: [{ name: 'job', executor: 'agent', commands: [
    `${hasValue('AGENT_TOK', value)} || exit 7; printf 'agent: %s' "\${AGENT_TOK:0:8}"; sleep 0.4; printf '%s\\n' "\${AGENT_TOK:8}"; printf %s "$AGENT_TOK" | base64; echo "out=$AGENT_TOK" >> "$DROVER_OUTPUT"`,
  ] }] }] };
  const out = await s.submit(spec);
  const tokenFile = join(s.root, 'agent.token');
  writeFileSync(tokenFile, token, { mode: 0o600 });
  const workDir = join(s.root, 'agent-work');
  procs.push(Bun.spawn([...DROVER_CMD, 'agent', '--server', s.url, '--token-file', tokenFile, '--name', 'sec', '--work-dir', workDir], { stdout: 'ignore', stderr: 'ignore' }));
  const run = await s.waitRun(out.run.id);
  expect(run.status).toBe('succeeded');
  const job = run.stages[0].jobs[0];
  const log = (await s.api('GET', `/jobs/${job.id}/logs`)).text;
  expect(log).toBe('agent: [REDACTED:AGENT_TOK]\n[REDACTED:AGENT_TOK]\n');
  expect(job.outputs.out).toBe('[REDACTED:AGENT_TOK]');
  // the job.sh the server keeps (the one the agent ran) holds no value; nor does anything left on the agent
  expectNoLeak(readFileSync(join(job.dir, 'job.sh')), value, 'job.sh');
  const jobDir = join(workDir, readdirSync(workDir).find((n) => n !== 'runs')!); // (runs/: the shared run work dirs)
  expect(existsSync(join(jobDir, '.secrets'))).toBe(false);
  expect(existsSync(join(jobDir, 'raw'))).toBe(false);
  for (const f of ['logs/0.log', 'outputs.env', 'job.out', 'job.sh']) expectNoLeak(readFileSync(join(jobDir, f)), value, `agent ${f}`);
});
