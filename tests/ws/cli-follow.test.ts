// `drover logs JOB -f` and `drover submit --follow` stream over the WebSocket, reconnect on their
// own from the last offset (here across a kill -9 and restart of the server), and exit with the
// job's or run's outcome: 0 succeeded, 1 otherwise.
import { test, expect, afterEach } from 'bun:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, oneStage, DROVER_CMD, waitFor, type TestServer } from '../helpers/server.ts';
import { storedLog, firstJob, restartSamePort, startServerLowPort } from './helpers.ts';

let servers: TestServer[] = [];
afterEach(async () => { for (const s of servers) await s.stop(); servers = []; });

function cli(s: TestServer, args: string[]) {
  const p = Bun.spawn([...DROVER_CMD, ...args], { cwd: s.root, env: { ...process.env, DROVER_DATA_DIR: s.dataDir }, stdout: 'pipe', stderr: 'pipe' });
  const out = { stdout: '', stderr: '' };
  const pump = async (stream: ReadableStream<Uint8Array>, key: 'stdout' | 'stderr') => {
    const dec = new TextDecoder();
    for await (const chunk of stream) out[key] += dec.decode(chunk, { stream: true });
  };
  const done = Promise.all([pump(p.stdout as ReadableStream<Uint8Array>, 'stdout'), pump(p.stderr as ReadableStream<Uint8Array>, 'stderr')]);
  return { p, out, exited: async () => { const code = await p.exited; await done; return code; } };
}

test('logs -f follows live across a kill -9 and restart of the server and exits 0 when the job succeeded', async () => {
  const s = await startServerLowPort();
  servers.push(s);
  const out = await s.submit(oneStage('cli-follow', ['for i in $(seq 1 40); do echo "tick $i ✓"; sleep 0.1; done', 'echo "second command"'], { workspace: s.root }));
  const job = firstJob(out);
  const c = cli(s, ['logs', job, '-f']);
  await waitFor(() => c.out.stdout.includes('tick 8 ✓'), { what: 'the first lines' });
  s.kill9();
  await s.proc.exited;
  await Bun.sleep(800); // the job goes on writing while no server is up
  const s2 = await restartSamePort(s);
  servers.push(s2);
  const code = await c.exited();
  expect(code).toBe(0);
  const stored = await storedLog(s2, job);
  expect(c.out.stdout).toBe(stored.toString());
  expect(c.out.stdout).toContain('tick 40 ✓\nsecond command\n');
  expect(c.out.stderr).toContain('reconnect');
}, 60_000);

test('submit --follow streams every job with a prefix and exits 1 when the run failed', async () => {
  const s = await startServer();
  servers.push(s);
  const spec = {
    name: 'cli-follow-fail', workspace: s.root,
    stages: [
      { name: 'a', jobs: [{ name: 'ok', commands: ['echo hello; sleep 0.2; echo ✓ bye'] }] },
      { name: 'b', needs: ['a'], jobs: [{ name: 'bad', commands: ['echo about to fail; exit 3'] }] },
    ],
  };
  writeFileSync(join(s.root, 'spec.json'), JSON.stringify(spec));
  const c = cli(s, ['submit', 'spec.json', '--follow']);
  const code = await c.exited();
  expect(code).toBe(1);
  expect(c.out.stdout).toContain('[a/ok] hello\n[a/ok] ✓ bye\n');
  expect(c.out.stdout).toContain('[b/bad] about to fail\n');
  expect(c.out.stdout).toMatch(/failed/);
}, 60_000);

test('logs -f of a failed job exits 1; an unknown job exits 2 with one line', async () => {
  const s = await startServer();
  servers.push(s);
  const out = await s.submit(oneStage('cli-follow-1', ['echo partial; exit 5'], { workspace: s.root }));
  const c = cli(s, ['logs', firstJob(out), '-f']);
  expect(await c.exited()).toBe(1);
  expect(c.out.stdout).toBe('partial\n');
  const u = cli(s, ['logs', 'j_nosuchjob0000', '-f']);
  expect(await u.exited()).toBe(2);
  expect(u.out.stderr.trim().split('\n')).toHaveLength(1);
}, 60_000);
