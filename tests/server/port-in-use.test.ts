// A port already in use: `drover serve` says so in one line and exits 2 at once, having written nothing
// to the data dir (it used to print the line and stay up, holding the data dir with no port).
import { test, expect, afterAll } from 'bun:test';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { DROVER_CMD, tempDir } from '../helpers/server.ts';

const taken = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Response('taken') });
afterAll(() => taken.stop(true));

test('serve on a port in use: exit 2, one line naming the port problem, nothing written to the data dir', async () => {
  const root = tempDir();
  const dataDir = join(root, 'data');
  const proc = Bun.spawn([...DROVER_CMD, 'serve', '--port', String(taken.port), '--data-dir', dataDir, '--workspace-root', root], { cwd: root, stdout: 'pipe', stderr: 'pipe' });
  const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
  const code = await proc.exited;
  clearTimeout(timer);
  const err = await new Response(proc.stderr).text();
  expect(code).toBe(2);
  expect(err).toContain('drover serve: the port is already in use');
  expect(err).toContain('--port');
  expect(err).not.toContain('wrote the admin token');
  expect(existsSync(dataDir) ? readdirSync(dataDir) : []).toEqual([]);
  expect(await (await fetch(`http://127.0.0.1:${taken.port}/`)).text()).toBe('taken'); // the other server is untouched
}, 30_000);
