// `bun bench/plugins.ts [N]` (default N = 200): executor plugins.
//   1. load time at `serve` start: time to listening with 0, 1 and 10 plugin files (copies of
//      examples/plugins/minimal.ts under ten names), and the loader's own figure from its log line;
//      median of BENCH_PLUGIN_ROUNDS (default 5) starts each.
//   2. N jobs through examples/plugins/ssh.ts at 4 slots against a real sshd on 127.0.0.1
//      (tests/helpers/sshd.ts), next to the same N commands through `xargs -P4 ssh host …` in the
//      same run: plain (a connection per command) and multiplexed (ControlMaster, as the plugin does).
// Not a test; prints a table. Each ssh session's cost depends on the remote login (a slow ~/.bashrc
// shows in every column alike): the xargs rows are the floor for the same sessions.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { cpus, loadavg } from 'node:os';
import { BenchServer, droverCommand, now, round, tempRoot, removeRoots, live } from './lib.ts';
import { startSshd } from '../tests/helpers/sshd.ts';

const ROOT = resolve(import.meta.dir, '..');
const N = Number(process.argv[2] ?? 200) || 200;
const ROUNDS = Math.max(1, Number(process.env.BENCH_PLUGIN_ROUNDS ?? 5) || 5);
const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.floor((s.length - 1) / 2)]! : NaN; };

/** A plugins dir with `n` copies of the minimal plugin, each under its own name. */
const mine: string[] = [];
function pluginsDir(n: number): string {
  const root = tempRoot('drover-bench-plugins-');
  mine.push(root);
  const dir = join(root, 'plugins');
  mkdirSync(dir);
  const src = readFileSync(join(ROOT, 'examples/plugins/minimal.ts'), 'utf8');
  for (let i = 0; i < n; i++) writeFileSync(join(dir, `p${i}.ts`), src.replace("name: 'minimal'", `name: 'minimal${i}'`));
  return dir;
}

async function loadTimes(n: number): Promise<{ listenMs: number; loaderMs: number | null }> {
  const dir = pluginsDir(n);
  const listen: number[] = [], loader: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = now();
    const s = await new BenchServer(tempRoot('drover-bench-'), ['--plugins', dir]).start();
    listen.push(now() - t0);
    const line = readFileSync(s.stderrPath, 'utf8').split('\n').find((l) => l.includes('loaded executor plugins'));
    if (line) loader.push(JSON.parse(line).ms);
    await s.stop();
  }
  return { listenMs: median(listen), loaderMs: loader.length ? median(loader) : null };
}

async function viaDrover(opts: string[]): Promise<number> {
  const s = await new BenchServer(tempRoot('drover-bench-'), ['--max-parallel', '4', ...opts.flatMap((o) => ['--plugin-opt', o]),
    '--plugin', join(ROOT, 'examples/plugins/ssh.ts')]).start();
  live.add(s);
  try {
    const spec = { name: 'ssh-bench', stages: [{ name: 's', jobs: Array.from({ length: N }, (_, i) => ({ name: `j${i}`, executor: 'ssh', commands: [`echo ${i}`] })) }] };
    const t0 = now();
    const sub = await s.must('POST', '/runs', { spec });
    const id = sub.body.run.id;
    for (;;) {
      const r = await s.api('GET', `/runs/${id}`);
      if (['succeeded', 'failed', 'canceled'].includes(r.body.status)) {
        if (r.body.status !== 'succeeded') throw new Error(`the run ${r.body.status}`);
        return now() - t0;
      }
      await Bun.sleep(200);
    }
  } finally { live.delete(s); await s.stop(); }
}

function viaXargs(port: number, sshOptions: string[], mux: boolean): number {
  const cmDir = tempRoot('drover-bench-cm-');
  mine.push(cmDir);
  const cm = mux ? ['-o', 'ControlMaster=auto', '-o', `ControlPath=${cmDir}/%C`, '-o', 'ControlPersist=60'] : [];
  const ssh = ['ssh', '-o', 'BatchMode=yes', ...cm, '-p', String(port), ...sshOptions, '127.0.0.1'].map((a) => `'${a}'`).join(' ');
  const t0 = now();
  const p = Bun.spawnSync(['bash', '-c', `seq 0 ${N - 1} | xargs -P4 -I{} ${ssh} 'echo {}' > /dev/null`]);
  if (p.exitCode !== 0) throw new Error(`xargs: ${p.stderr.toString().slice(-300)}`);
  return now() - t0;
}

const load0 = loadavg()[0];
const rows: string[][] = [];
try {
  for (const n of [0, 1, 10]) {
    const t = await loadTimes(n);
    rows.push([`serve start with ${n} plugin file(s)`, `${round(t.listenMs, 0)} ms to listening`, t.loaderMs === null ? '-' : `${t.loaderMs} ms in the loader`]);
    process.stderr.write(`bench: ${rows.at(-1)!.join(' | ')}\n`);
  }
  const sshd = await startSshd();
  try {
    const x1 = viaXargs(sshd.port, sshd.sshOptions, false);
    rows.push([`${N} commands, xargs -P4 ssh (a connection each)`, `${round(x1 / 1000, 1)} s`, `${round(N / (x1 / 1000), 1)} /s`]);
    process.stderr.write(`bench: ${rows.at(-1)!.join(' | ')}\n`);
    const x2 = viaXargs(sshd.port, sshd.sshOptions, true);
    rows.push([`${N} commands, xargs -P4 ssh (ControlMaster)`, `${round(x2 / 1000, 1)} s`, `${round(N / (x2 / 1000), 1)} /s`]);
    process.stderr.write(`bench: ${rows.at(-1)!.join(' | ')}\n`);
    const d = await viaDrover(sshd.pluginOpts(4));
    rows.push([`${N} jobs, drover ssh plugin, 4 slots`, `${round(d / 1000, 1)} s`, `${round(N / (d / 1000), 1)} /s`]);
    process.stderr.write(`bench: ${rows.at(-1)!.join(' | ')}\n`);
  } finally { await sshd.stop(); }
} finally {
  removeRoots();
  for (const r of mine) rmSync(r, { recursive: true, force: true });
}
const w = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i]!.length)));
console.log(`\ndrover plugins bench — ${droverCommand().label}, ${cpus().length} CPUs, bun ${Bun.version}, load ${round(load0, 2)} at start\n`);
for (const r of rows) console.log(r.map((c, i) => c.padEnd(w[i]!)).join('  '));

