// Executor plugins loaded at run time (API.md §6): the examples load from --plugins DIR and show up in
// /queue and /metrics with their source; every kind of broken plugin file stops `serve` with exit 2 and
// one line naming the file and the reason, with nothing listening; a plugin that throws in poll or whose
// start never answers fails only its own jobs (executor_error) while the server goes on; and
// `drover plugin test` fails, naming the case, on plugins that cheat.
import { test, expect } from 'bun:test';
import { mkdirSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { startServer, tempDir, DROVER_CMD } from '../helpers/server.ts';

const ROOT = resolve(import.meta.dir, '../..');
const FIX = join(ROOT, 'tests/fixtures/plugins');
const EXAMPLES = join(ROOT, 'examples/plugins');

function freePort(): number {
  const s = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } });
  const port = s.port;
  s.stop(true);
  return port;
}

async function listening(port: number): Promise<boolean> {
  try { await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(1000) }); return true; } catch { return false; }
}

/** `serve` with these plugin flags: its exit code and stderr, and whether anything listens on its port. */
async function serveRefused(args: string[]) {
  const root = tempDir(), data = join(root, 'data'), port = freePort();
  mkdirSync(join(root, 'empty'));
  const p = Bun.spawn([...DROVER_CMD, 'serve', '--port', String(port), '--data-dir', data, '--workspace-root', root, '--plugins', join(root, 'empty'), ...args], { stdout: 'pipe', stderr: 'pipe' });
  const code = await Promise.race([p.exited, Bun.sleep(20_000).then(() => { p.kill('SIGKILL'); return 'hung'; })]);
  const err = await new Response(p.stderr).text();
  return { code, err, lines: err.trim().split('\n'), listening: await listening(port), dbCreated: existsSync(join(data, 'drover.db')) };
}

test('the examples load from --plugins DIR: /queue and `drover queue` show their source and api version, /metrics their lines', async () => {
  // (ssh.ts needs hosts: one where nothing listens, so it loads and reports itself unavailable)
  const s = await startServer(['--plugins', EXAMPLES, '--plugin-opt', 'minimal.slots=3', '--plugin-opt', 'ssh.hosts=[{"host":"127.0.0.1","port":1}]']);
  try {
    const q = await s.api('GET', '/queue');
    expect(q.body.executors.minimal).toMatchObject({ slots: 3, used: 0, source: join(EXAMPLES, 'minimal.ts'), api_version: 1, available: true });
    expect(q.body.executors.local).toMatchObject({ source: 'built-in', api_version: 1 });
    expect(q.body.executors.ssh).toMatchObject({ source: join(EXAMPLES, 'ssh.ts'), api_version: 1, available: false, slots: 0 });
    expect(q.body.executors.ssh.unavailable_reason).toMatch(/no host answers over ssh \(127\.0\.0\.1:1: .+\)/);
    const cli = s.cli('queue');
    expect(cli.out).toMatch(/minimal\s+0\/3 used.*examples\/plugins\/minimal\.ts, api v1/);
    const m = await s.api('GET', '/metrics');
    expect(m.text).toContain(`drover_executor_info{executor="minimal",source="${join(EXAMPLES, 'minimal.ts')}",api_version="1"} 1`);
    expect(m.text).toContain('drover_executor_available{executor="minimal"} 1');
    // and a job runs on it
    const run = await s.submit({ name: 'on-plugin', stages: [{ name: 's', jobs: [{ name: 'j', executor: 'minimal', commands: ['echo via-plugin'] }] }] });
    const done = await s.waitRun(run.run.id);
    expect(done.status).toBe('succeeded');
    expect((await s.api('GET', `/jobs/${done.stages[0].jobs[0].id}/logs`)).text).toContain('via-plugin');
  } finally { await s.stop(); }
}, 60_000);

const refusals: [string, string[], RegExp][] = [
  ['a syntax error', ['--plugin', join(FIX, 'syntax-error.js')], /plugin .*syntax-error\.js: does not load: .+/],
  ['a module that throws', ['--plugin', join(FIX, 'throws.ts')], /plugin .*throws\.ts: does not load: this plugin refuses to load/],
  ['apiVersion 99', ['--plugin', join(FIX, 'api99.ts')], /plugin .*api99\.ts: apiVersion 99 is not supported by this drover \(supported: 1\)/],
  ['a second plugin named local', ['--plugin', join(FIX, 'named-local.ts')], /plugin .*named-local\.ts: the name 'local' is already taken \(by built-in\)/],
  ['bad settings', ['--plugin', join(EXAMPLES, 'minimal.ts'), '--plugin-opt', 'minimal.slots="many"'], /plugin .*minimal\.ts: bad settings: minimal\.slots: .*number/i],
  ['settings for nothing loaded', ['--plugin-opt', 'nosuch.key=1'], /--plugin-opt: 'nosuch' names no loaded executor/],
];
for (const [what, args, line] of refusals) {
  test(`${what}: serve exits 2 with one line naming the file and the reason, and nothing listens`, async () => {
    const r = await serveRefused(args);
    expect(r.code).toBe(2);
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toMatch(/^drover serve: /);
    expect(r.lines[0]).toMatch(line);
    expect(r.listening).toBe(false);
    expect(r.dbCreated).toBe(false); // refused before anything was opened
  }, 30_000);
}

test('a plugin that throws in poll, and one whose start never answers: their jobs fail executor_error; other jobs and the API go on', async () => {
  const s = await startServer(['--plugin', join(FIX, 'poll-throws.ts'), '--plugin', join(FIX, 'start-hangs.ts'), '--plugin-timeout', '1s']);
  try {
    const job = (name: string, executor: string) => ({ name, executor, commands: ['sleep 1; echo ok'] });
    const run = await s.submit({ name: 'mixed', stages: [{ name: 's', jobs: [job('p', 'pollthrows'), job('h', 'starthangs'), job('l', 'local')] }] });
    const done = await s.waitRun(run.run.id, undefined, 30_000);
    const by = Object.fromEntries(done.stages[0].jobs.map((j: any) => [j.name, j]));
    expect(by.p).toMatchObject({ status: 'failed', reason: 'executor_error' });
    expect(by.p.message).toContain("executor 'pollthrows' poll: the backend said no");
    expect(by.h).toMatchObject({ status: 'failed', reason: 'executor_error' });
    expect(by.h.message).toContain("executor 'starthangs' start: did not answer within 1000 ms");
    expect(by.l.status).toBe('succeeded');
    expect((await s.api('GET', '/healthz')).status).toBe(200);
    const m = await s.api('GET', '/metrics');
    expect(m.text).toMatch(/drover_executor_call_errors_total\{executor="pollthrows",call="poll"\} [1-9]/);
    expect(m.text).toMatch(/drover_executor_call_errors_total\{executor="starthangs",call="start"\} 1/);
    // the server still runs jobs after all that
    const again = await s.waitRun((await s.submit({ name: 'after', stages: [{ name: 's', jobs: [{ name: 'j', commands: ['true'] }] }] })).run.id);
    expect(again.status).toBe('succeeded');
  } finally { await s.stop(); }
}, 60_000);

function pluginTest(...args: string[]) {
  const p = Bun.spawnSync([...DROVER_CMD, 'plugin', 'test', ...args], { cwd: ROOT, env: { ...process.env }, timeout: 170_000 });
  return { code: p.exitCode, out: p.stdout.toString(), err: p.stderr.toString() };
}

test('drover plugin test: a plugin that reports success without running the job fails, naming the cases', () => {
  const r = pluginTest(join(FIX, 'fake-success.ts'), '--case', 'succeeds', '--case', 'outputs', '--case', 'exit_code');
  expect(r.code).toBe(1);
  expect(r.out).toMatch(/succeeds\s+FAIL\s+.*command 0's log is ""/);
  expect(r.out).toMatch(/outputs\s+FAIL/);
  expect(r.out).toMatch(/exit_code\s+FAIL/);
  expect(r.out).toContain('conformance: 3 of 3 cases fail (succeeds, exit_code, outputs)');
}, 180_000);

test('drover plugin test: a plugin whose adopt reruns the job fails adopt_running', () => {
  const r = pluginTest(join(FIX, 'adopt-reruns.ts'), '--case', 'adopt_running');
  expect(r.code).toBe(1);
  expect(r.out).toMatch(/adopt_running\s+FAIL\s+.*(ran 2 times|attempt)/);
}, 180_000);

test('drover plugin test: a file that does not load is exit 2 with one line', () => {
  const r = pluginTest(join(FIX, 'api99.ts'));
  expect(r.code).toBe(2);
  expect(r.err.trim()).toMatch(/^drover plugin test: plugin .*api99\.ts: apiVersion 99 is not supported/);
});
