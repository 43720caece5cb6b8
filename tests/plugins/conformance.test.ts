// One conformance suite for every executor (`drover plugin test`, src/plugins/conformance): the built-in
// local and gpu (fake nvidia-smi: the one thing that cannot exist here) and slurm (the REAL test
// cluster), the minimal plugin of docs/PLUGINS.md exactly as printed there, and examples/plugins/ssh.ts
// against a REAL sshd on 127.0.0.1 (tests/helpers/sshd.ts; tests/run.sh installs openssh-server).
import { test, expect } from 'bun:test';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DROVER_CMD, tempDir } from '../helpers/server.ts';
import { loadClusterEnv } from '../helpers/cluster.ts';
import { startSshd } from '../helpers/sshd.ts';

const ROOT = resolve(import.meta.dir, '../..');
const SKIP_SLURM = process.env.DROVER_TEST_SKIP_SLURM === '1';
const SKIP_SSHD = process.env.DROVER_TEST_SKIP_SSHD === '1';
if (SKIP_SSHD) console.warn('[conformance.test] DROVER_TEST_SKIP_SSHD=1: the ssh plugin against a real sshd is skipped ON PURPOSE');
if (SKIP_SLURM) console.warn('[conformance.test] DROVER_TEST_SKIP_SLURM=1: the slurm conformance run is skipped ON PURPOSE');

function pluginTest(target: string, env: Record<string, string> = {}, args: string[] = []) {
  const p = Bun.spawnSync([...DROVER_CMD, 'plugin', 'test', target, '--json', ...args], { cwd: ROOT, env: { ...process.env, ...env }, timeout: 330_000 });
  const out = p.stdout.toString();
  let report: { ok: boolean; cases: { name: string; result: string; detail: string }[] } | null = null;
  try { report = JSON.parse(out); } catch { /* shown below */ }
  return { code: p.exitCode, report, raw: out + p.stderr.toString() };
}

function expectAllPass(r: ReturnType<typeof pluginTest>, skips: string[] = ['unavailable']) {
  if (!r.report) throw new Error(`no report: ${r.raw.slice(-2000)}`);
  const bad = r.report.cases.filter((c) => c.result === 'fail').map((c) => `${c.name}: ${c.detail}`);
  expect(bad).toEqual([]);
  expect(r.report.cases.filter((c) => c.result === 'skip').map((c) => c.name)).toEqual(skips);
  expect(r.report.cases.length).toBe(11);
  expect(r.code).toBe(0);
}

test('local passes the conformance suite', () => {
  expectAllPass(pluginTest('local'));
}, 240_000);

test('gpu (fake nvidia-smi with 2 GPUs) passes the conformance suite', () => {
  expectAllPass(pluginTest('gpu', { PATH: `${join(ROOT, 'tests/fakes/bin')}:${process.env.PATH}`, FAKE_NVIDIA_SMI: '2' }));
}, 240_000);

(SKIP_SLURM ? test.skip : test)('slurm (the real test cluster) passes the conformance suite', () => {
  loadClusterEnv();
  expectAllPass(pluginTest('slurm'));
}, 240_000);

test('the minimal plugin printed in docs/PLUGINS.md loads and passes the suite as it stands there', () => {
  const doc = readFileSync(join(ROOT, 'docs/PLUGINS.md'), 'utf8');
  const code = /```ts\n([\s\S]*?)```/.exec(doc)?.[1];
  if (!code) throw new Error('docs/PLUGINS.md has no ```ts block');
  expect(code).toBe(readFileSync(join(ROOT, 'examples/plugins/minimal.ts'), 'utf8')); // the doc and the example are one text
  const file = join(tempDir(), 'minimal.ts');
  writeFileSync(file, code);
  expectAllPass(pluginTest(file));
}, 240_000);

(SKIP_SSHD ? test.skip : test)('examples/plugins/ssh.ts passes the conformance suite against a real sshd on 127.0.0.1', async () => {
  const sshd = await startSshd();
  try {
    const r = pluginTest(join(ROOT, 'examples/plugins/ssh.ts'), {}, sshd.pluginOpts().flatMap((o) => ['--plugin-opt', o]));
    expectAllPass(r, []); // its `unavailable` case runs too: a host where nothing listens
  } finally { await sshd.stop(); }
}, 340_000);
