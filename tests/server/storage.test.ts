// Storage faults against a real small tmpfs (needs root to mount, as in CI): a full disk answers
// writes with 503 storage_unavailable, reads keep working, nothing half-written is left, and the
// server recovers by itself once space is back. Also: a data dir on a network filesystem is refused.
import { test, expect, afterAll } from 'bun:test';
import { mkdirSync, readdirSync, writeFileSync, rmSync, openSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, tempDir, oneStage, DROVER_CMD, type TestServer } from '../helpers/server.ts';

const SKIP = process.env.DROVER_TEST_SKIP_MOUNT === '1';
let s: TestServer | undefined;
let mnt: string | undefined;
afterAll(async () => {
  await s?.stop();
  if (mnt) Bun.spawnSync(['umount', '-l', mnt]);
});

function fillDisk(dir: string): string {
  const file = join(dir, 'filler');
  const fd = openSync(file, 'w');
  const chunk = new Uint8Array(64 * 1024);
  try { for (;;) writeSync(fd, chunk); } catch { /* ENOSPC: full */ }
  closeSync(fd);
  return file;
}

test('a full disk gives 503 storage_unavailable on writes, reads work, and it recovers without a restart', async () => {
  if (SKIP) return; // set on purpose only where mounting is impossible
  const root = tempDir();
  mnt = join(root, 'mnt');
  mkdirSync(mnt);
  const m = Bun.spawnSync(['mount', '-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mnt]);
  expect(m.exitCode, `mount tmpfs failed (run as root, or DROVER_TEST_SKIP_MOUNT=1): ${m.stderr}`).toBe(0);
  s = await startServer(['--max-parallel', '2'], { root, dataDir: join(mnt, 'data') });
  const first = await s.submit(oneStage('before', ['echo ok']));
  expect((await s.waitRun(first.run.id)).status).toBe('succeeded');

  const filler = fillDisk(mnt);
  const runsBefore = readdirSync(join(s.dataDir, 'runs')).sort();
  const refused = await s.api('POST', '/runs', { spec: oneStage('during', ['echo no']) });
  expect(refused.status).toBe(503);
  expect(refused.body.error.code).toBe('storage_unavailable');
  const pipe = await s.api('POST', '/pipelines', oneStage('during-pipe', ['echo no']));
  expect([201, 503]).toContain(pipe.status); // a tiny row may still fit in SQLite's free pages
  const list = await s.api('GET', '/runs');
  expect(list.status).toBe(200);
  expect(list.body.items.map((r: any) => r.id)).toEqual([first.run.id]);
  expect(readdirSync(join(s.dataDir, 'runs')).sort()).toEqual(runsBefore);

  rmSync(filler);
  const after = await s.submit(oneStage('after', ['echo back']));
  expect((await s.waitRun(after.run.id)).status).toBe('succeeded');
});

test('a data dir on NFS is refused with a clear message unless --allow-network-fs', async () => {
  const root = tempDir();
  const mounts = join(root, 'mounts');
  writeFileSync(mounts, `server:/export ${root} nfs4 rw,relatime 0 0\n`);
  const env = { ...process.env, DROVER_MOUNTS_FILE: mounts };
  const p = Bun.spawnSync([...DROVER_CMD, 'serve', '--port', '0', '--data-dir', join(root, 'data')], { cwd: root, env });
  expect(p.exitCode).toBe(2);
  expect(p.stderr.toString()).toContain('nfs4');
  expect(p.stderr.toString()).toContain('--allow-network-fs');
  // with the override the same data dir setup starts
  const proc = Bun.spawn([...DROVER_CMD, 'serve', '--port', '0', '--data-dir', join(root, 'data2'), '--allow-network-fs'], { cwd: root, env, stderr: 'pipe' });
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (Bun.file(join(root, 'data2', 'server.json')).size > 0) break;
    await Bun.sleep(50);
  }
  expect(Bun.file(join(root, 'data2', 'server.json')).size).toBeGreaterThan(0);
  proc.kill();
  await proc.exited;
});
