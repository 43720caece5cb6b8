// `drover doctor` against real installations: a healthy one (a running server, the real Slurm
// cluster, a fake nvidia-smi with 2 GPUs) exits 0; a data dir on a (simulated: DROVER_MOUNTS_FILE)
// NFS mount, sbatch missing, a token file others can read, a broken nvidia-smi or a damaged database
// each make it say what is wrong with the fix, and exit 1.
import { test, expect, afterAll } from 'bun:test';
import { chmodSync, mkdirSync, openSync, rmSync, statSync, symlinkSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { startServer, tempDir, DROVER_CMD, type TestServer } from '../helpers/server.ts';
import { loadClusterEnv } from '../helpers/cluster.ts';

const FAKE_BIN = resolve(import.meta.dir, '../fakes/bin');
const SKIP_SLURM = process.env.DROVER_TEST_SKIP_SLURM === '1';
loadClusterEnv();

const servers: TestServer[] = [];
afterAll(async () => { for (const s of servers) await s.stop(); });

function doctor(args: string[], env: Record<string, string> = {}) {
  const p = Bun.spawnSync([...DROVER_CMD, 'doctor', ...args, ...(SKIP_SLURM ? ['--skip', 'slurm'] : [])], {
    env: { ...process.env, PATH: `${FAKE_BIN}:${process.env.PATH}`, FAKE_NVIDIA_SMI: '2', ...env } as Record<string, string>,
  });
  return { code: p.exitCode, out: p.stdout.toString(), err: p.stderr.toString() };
}
const json = (r: { out: string }) => JSON.parse(r.out) as { ok: boolean; checks: { check: string; level: string; message: string; fix?: string }[] };
const failures = (r: { out: string }) => json(r).checks.filter((c) => c.level === 'fail');

test('a healthy installation: every check passes, exit 0 (and the human output says healthy)', async () => {
  const s = await startServer();
  servers.push(s);
  const r = doctor(['--data-dir', s.dataDir, '--json']);
  expect(failures(r)).toEqual([]);
  expect(r.code).toBe(0);
  const byCheck = (c: string) => json(r).checks.filter((x) => x.check === c);
  expect(byCheck('server').map((c) => c.message).join(' ')).toContain(`answers at ${s.url}`);
  expect(byCheck('server').at(-1)!.message).toBe('the token is accepted');
  expect(byCheck('database')[0]!.message).toContain('quick_check: ok');
  expect(byCheck('tokens')[0]!.message).toContain('mode 600');
  expect(byCheck('gpu')[0]!.message).toBe('nvidia-smi lists 2 GPU(s)');
  if (!SKIP_SLURM) expect(byCheck('slurm').map((c) => c.level)).toEqual(['ok', 'ok', 'ok']);
  const h = doctor(['--data-dir', s.dataDir]);
  expect(h.code).toBe(0);
  expect(h.out).toContain('healthy');
}, 60_000);

test('a data dir on NFS (simulated mount table) fails with the fix', () => {
  const root = tempDir();
  const mounts = join(root, 'mounts');
  writeFileSync(mounts, `/dev/vda1 / ext4 rw 0 0\nserver:/export ${root} nfs4 rw,relatime 0 0\n`);
  const r = doctor(['--data-dir', join(root, 'data'), '--json', '--skip', 'server'], { DROVER_MOUNTS_FILE: mounts });
  expect(r.code).toBe(1);
  const [f] = failures(r);
  expect(f).toMatchObject({ check: 'filesystem' });
  expect(f!.message).toContain('nfs4');
  expect(f!.fix).toContain('--data-dir');
  const h = doctor(['--data-dir', join(root, 'data'), '--skip', 'server'], { DROVER_MOUNTS_FILE: mounts });
  expect(h.out).toMatch(/FAIL +filesystem .*nfs4/);
  expect(h.out).toContain('fix: use a local disk');
}, 60_000);

test('sbatch missing (the other Slurm clients present) fails with the install command', () => {
  if (SKIP_SLURM) return; // needs the real squeue/sacct beside the missing sbatch
  const bin = join(tempDir(), 'bin');
  mkdirSync(bin);
  for (const c of ['squeue', 'sacct']) symlinkSync(Bun.which(c)!, join(bin, c));
  const root = tempDir();
  const r = doctor(['--data-dir', join(root, 'data'), '--json', '--skip', 'server'], { DROVER_SLURM_PATH: bin });
  expect(r.code).toBe(1);
  const f = failures(r);
  expect(f.map((x) => [x.check, x.message.split(' (')[0]])).toEqual([['slurm', 'sbatch is not installed']]);
  expect(f[0]!.fix).toContain('apt-get install slurm-client');
}, 60_000);

test('a token file others can read, a failing nvidia-smi and a damaged database: each named, with its fix', async () => {
  const s = await startServer();
  servers.push(s);
  await s.stop();
  chmodSync(join(s.dataDir, 'admin.token'), 0o644);
  // damage the database: every page after the first (the schema's) becomes garbage; no WAL copy masks it
  const db = join(s.dataDir, 'drover.db');
  for (const f of [db + '-wal', db + '-shm']) rmSync(f, { force: true });
  const size = statSync(db).size;
  const fd = openSync(db, 'r+');
  writeSync(fd, Buffer.alloc(size - 4096, 0xa5), 0, size - 4096, 4096);
  closeSync(fd);
  const r = doctor(['--data-dir', s.dataDir, '--json', '--skip', 'server'], { FAKE_NVIDIA_SMI: 'exit9' });
  expect(r.code).toBe(1);
  const f = failures(r);
  expect(f.map((x) => x.check).sort()).toEqual(['database', 'gpu', 'tokens']);
  expect(f.find((x) => x.check === 'tokens')!.fix).toBe(`chmod 600 ${join(s.dataDir, 'admin.token')}`);
  expect(f.find((x) => x.check === 'gpu')!.message).toContain("couldn't communicate with the NVIDIA driver");
  expect(f.find((x) => x.check === 'database')!.fix).toContain('.recover');
}, 60_000);

test('a server.json whose server is gone fails the server check; an unknown --skip is a usage error', () => {
  const root = tempDir();
  mkdirSync(join(root, 'data'));
  writeFileSync(join(root, 'data', 'server.json'), JSON.stringify({ url: 'http://127.0.0.1:9', pid: 1 }));
  const r = doctor(['--data-dir', join(root, 'data'), '--json', '--skip', 'slurm,gpu']);
  expect(r.code).toBe(1);
  expect(failures(r).map((x) => x.check)).toEqual(['server']);
  expect(failures(r)[0]!.fix).toContain('drover serve --data-dir');
  const bad = doctor(['--skip', 'nope']);
  expect(bad.code).toBe(2);
  expect(bad.err).toContain("unknown check 'nope'");
}, 60_000);
