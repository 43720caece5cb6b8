// Shared bench helpers: which drover to run, starting/stopping a server in a throwaway
// directory, the HTTP client, RSS from /proc, and timing. No measurement lives here.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, openSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Subprocess } from 'bun';

const ROOT = resolve(import.meta.dir, '..');

/** The drover command: $DROVER_BENCH_BINARY, else dist/drover when built, else `bun src/main.ts`
 *  (forced with DROVER_BENCH_SOURCE=1; DROVER_BENCH_BUN_FLAGS adds flags such as --cpu-prof). */
export function droverCommand(): { argv: string[]; label: string } {
  if (process.env.DROVER_BENCH_SOURCE === '1') {
    const flags = (process.env.DROVER_BENCH_BUN_FLAGS ?? '').split(' ').filter(Boolean);
    return { argv: [process.execPath, ...flags, join(ROOT, 'src/main.ts')], label: `bun ${flags.join(' ')}${flags.length ? ' ' : ''}src/main.ts` };
  }
  const env = process.env.DROVER_BENCH_BINARY;
  if (env) return { argv: [resolve(env)], label: `binary ${env}` };
  const dist = join(ROOT, 'dist/drover');
  if (existsSync(dist)) return { argv: [dist], label: 'binary dist/drover' };
  return { argv: [process.execPath, join(ROOT, 'src/main.ts')], label: 'bun src/main.ts' };
}

export const now = () => performance.now();
export const sleep = (ms: number) => Bun.sleep(ms);

export function tempRoot(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Resident set size and its peak of a process, in MiB, from /proc/<pid>/status. */
export function rssMiB(pid: number): { rss: number; hwm: number } {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
}

export interface Api { status: number; body: any; ms: number }

/** A `drover serve` process on port 0 with its own data dir; stderr goes to a file. */
export class BenchServer {
  proc!: Subprocess;
  url = '';
  token = '';
  pid = 0;
  readonly dataDir: string;
  readonly stderrPath: string;
  constructor(readonly root: string, readonly args: string[]) {
    this.dataDir = join(root, 'data');
    this.stderrPath = join(root, 'server.stderr');
  }

  async start(timeoutMs = 30_000): Promise<this> {
    mkdirSync(this.dataDir, { recursive: true });
    const fd = openSync(this.stderrPath, 'a');
    this.proc = Bun.spawn([...droverCommand().argv, 'serve', '--port', '0', '--data-dir', this.dataDir,
      '--workspace-root', this.root, ...this.args], { cwd: this.root, stdout: 'ignore', stderr: fd, env: process.env }); // (Bun.spawn does not see later changes to process.env unless given it)
    closeSync(fd);
    const serverFile = join(this.dataDir, 'server.json');
    const end = Date.now() + timeoutMs;
    while (!existsSync(serverFile)) {
      if (this.proc.exitCode !== null) throw new Error(`server exited with ${this.proc.exitCode}: ${this.stderrTail()}`);
      if (Date.now() > end) throw new Error(`server did not listen within ${timeoutMs} ms`);
      await sleep(20);
    }
    await sleep(20); // server.json may be mid-write
    const info = JSON.parse(readFileSync(serverFile, 'utf8'));
    this.url = info.url;
    this.pid = info.pid;
    this.token = readFileSync(join(this.dataDir, 'admin.token'), 'utf8').trim();
    return this;
  }

  stderrTail(n = 2000): string {
    try { return readFileSync(this.stderrPath, 'utf8').slice(-n); } catch { return ''; }
  }

  async api(method: string, path: string, body?: unknown): Promise<Api> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const t0 = now();
    const res = await fetch(`${this.url}/api/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    const ms = now() - t0;
    let parsed: any = text;
    try { parsed = JSON.parse(text); } catch { /* keep text */ }
    return { status: res.status, body: parsed, ms };
  }

  /** POST and throw unless the status is 2xx. */
  async must(method: string, path: string, body?: unknown): Promise<Api> {
    const r = await this.api(method, path, body);
    if (r.status < 200 || r.status > 299) throw new Error(`${method} ${path} → ${r.status}: ${JSON.stringify(r.body).slice(0, 500)}`);
    return r;
  }

  rss() { return rssMiB(this.pid); }

  /** SIGTERM, then SIGKILL after `graceMs`; the temp root is removed at the very end (removeRoots),
   *  because deleting thousands of files on this disk (ext4 with online discard) slows the file
   *  creation of whatever is measured next for a while. */
  async stop(graceMs = 5_000): Promise<void> {
    if (this.proc && this.proc.exitCode === null) {
      this.proc.kill('SIGTERM');
      const done = await Promise.race([this.proc.exited.then(() => true), sleep(graceMs).then(() => false)]);
      if (!done) { this.proc.kill('SIGKILL'); await this.proc.exited; }
    }
    leftover.add(this.root);
  }
}

const leftover = new Set<string>();
/** Remove every server root made during the run (call once, after the last measurement). */
export function removeRoots(): void {
  for (const r of leftover) rmSync(r, { recursive: true, force: true });
  leftover.clear();
}

/** Start a server in a fresh temp root, run `fn`, always stop it. */
export async function withServer<T>(args: string[], fn: (s: BenchServer) => Promise<T>): Promise<T> {
  const s = await new BenchServer(tempRoot('drover-bench-'), args).start();
  live.add(s);
  try { return await fn(s); } finally { live.delete(s); await s.stop(); }
}

/** Servers still running, so the watchdog in run.ts can kill them. */
export const live = new Set<BenchServer>();

/** Poll `fn` every `intervalMs` until it returns a truthy value or `timeoutMs` passes (then null). */
export async function pollUntil<T>(fn: () => Promise<T | null | undefined | false>, timeoutMs: number, intervalMs = 100): Promise<T | null> {
  const end = now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (now() > end) return null;
    await sleep(intervalMs);
  }
}

/** A spec with one stage of `n` jobs named j0..j<n-1>, each running `true`. */
export function wideSpec(name: string, n: number) {
  return { name, stages: [{ name: 'main', jobs: Array.from({ length: n }, (_, i) => ({ name: `j${i}`, commands: ['true'] })) }] };
}

/** A sweep spec: matrix i = 0..n-1, one trivial job per run. */
export function sweepSpec(name: string, n: number) {
  return { name, matrix: { i: Array.from({ length: n }, (_, i) => i) }, stages: [{ name: 'main', jobs: [{ name: 'j', commands: ['true'] }] }] };
}

export const round = (x: number, d = 1) => Number.isFinite(x) ? Math.round(x * 10 ** d) / 10 ** d : x;

/** The sample with the median value of `key` (the lower middle for an even count), or undefined. */
export function medianBy<T>(samples: T[], key: (t: T) => number | null | undefined): T | undefined {
  const ok = samples.filter((s) => Number.isFinite(key(s) ?? NaN));
  if (!ok.length) return samples[0];
  const sorted = [...ok].sort((a, b) => key(a)! - key(b)!);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

/** "min–max" of `key` over the samples, for the spread column. */
export function spread<T>(samples: T[], key: (t: T) => number | null | undefined, d = 0): string {
  const v = samples.map(key).filter((x): x is number => x != null && Number.isFinite(x));
  if (v.length < 2) return '';
  return `${round(Math.min(...v), d)}–${round(Math.max(...v), d)}`;
}

/** The Slurm test cluster's environment (tests/cluster/start.sh's env.sh) when the shell did not source it. */
export function loadClusterEnv(): void {
  if (process.env.SLURM_CONF) return;
  const f = join(process.env.DROVER_CLUSTER_DIR ?? '/tmp/drover-test-cluster', 'env.sh');
  if (existsSync(f)) for (const m of readFileSync(f, 'utf8').matchAll(/^export ([A-Z_]+)=(\S*)$/gm)) process.env[m[1]!] = m[2]!.replace(/^'|'$/g, '');
}

/** Run a command (argv, no shell); its stdout, or an error with its stderr. */
export function sh(cmd: string[]): string {
  const p = Bun.spawnSync(cmd, { env: process.env as Record<string, string> });
  if (p.exitCode !== 0) throw new Error(`${cmd.join(' ')}: ${p.stderr.toString().trim()}`);
  return p.stdout.toString();
}
