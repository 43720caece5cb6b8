// One server per data dir: a second `serve` is refused while the first is alive, and a new one
// takes over at once after the first was killed with SIGKILL.
import { test, expect, afterEach } from 'bun:test';
import { startServer, oneStage, TestServer, DROVER_CMD } from '../helpers/server.ts';
import { removeDir } from './gauntlet-helpers.ts';

let servers: TestServer[] = [];
let extra: { kill(sig?: string | number): void; exitCode: number | null }[] = [];
let dirs: string[] = [];

afterEach(async () => {
  for (const p of extra) if (p.exitCode === null) p.kill('SIGKILL');
  for (const s of servers) await s.stop().catch(() => {});
  for (const d of dirs) removeDir(d);
  servers = []; extra = []; dirs = [];
});

test('a second serve on the same data dir is refused while the first is alive; after SIGKILL a new one starts', async () => {
  const first = await startServer([]);
  servers.push(first);
  dirs.push(first.root);

  const second = Bun.spawn([...DROVER_CMD, 'serve', '--port', '0', '--data-dir', first.dataDir, '--workspace-root', first.root], {
    cwd: first.root, stdout: 'pipe', stderr: 'pipe', env: { ...process.env },
  });
  extra.push(second);
  const code = await Promise.race([second.exited, Bun.sleep(30_000).then(() => 'still running' as const)]);
  const output = (await new Response(second.stderr).text()) + (await new Response(second.stdout).text());
  expect(code).not.toBe('still running');
  expect(code).not.toBe(0);
  expect(output).toContain('another drover serve');

  // the first one is untouched
  expect(first.proc.exitCode).toBeNull();
  expect((await first.api('GET', '/healthz')).status).toBe(200);

  first.kill9();
  await first.proc.exited;

  // a new server (Bun.spawn of DROVER_CMD, via the helper) takes over the data dir at once
  const third = await new TestServer(first.root, first.dataDir, []).start();
  servers.push(third);
  const health = await third.api('GET', '/healthz');
  expect(health.status).toBe(200);
  expect(health.body.ok).toBe(true);
  const out = await third.submit(oneStage('after-takeover', ['echo ok']));
  const run = await third.waitRun(out.run.id);
  expect(run.status).toBe('succeeded');
}, 90_000);
