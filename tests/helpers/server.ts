// Starts a real `drover serve` process (source via bun, or the compiled binary when
// DROVER_TEST_BINARY is set) on an ephemeral port with a temp data dir, and talks to it over HTTP.
import { mkdtempSync, readFileSync, existsSync, rmSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Subprocess } from 'bun';

const ROOT = resolve(import.meta.dir, '../..');
export const DROVER_CMD: string[] = process.env.DROVER_TEST_BINARY
  ? [resolve(process.env.DROVER_TEST_BINARY)]
  : [process.execPath, join(ROOT, 'src/main.ts')];

export function tempDir(prefix = 'drover-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export async function waitFor<T>(fn: () => T | Promise<T>, { timeoutMs = 20_000, intervalMs = 50, what = 'condition' } = {}): Promise<Exclude<T, false | null | undefined | 0 | ''>> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as Exclude<T, false | null | undefined | 0 | ''>;
    } catch (e) { last = e; }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last}` : ''}`);
    await Bun.sleep(intervalMs);
  }
}

export interface ApiResponse<T = any> { status: number; body: T; text: string; headers: Headers }

export class TestServer {
  proc!: Subprocess;
  url = '';
  token = '';
  stderr = '';
  constructor(readonly root: string, readonly dataDir: string, readonly args: string[], readonly env: Record<string, string> = {}) {}

  /** Run the `drover` CLI against this server (its data dir), from its root. */
  cli(...args: string[]): { code: number | null; out: string; err: string } {
    const p = Bun.spawnSync([...DROVER_CMD, ...args], { cwd: this.root, env: { ...process.env, DROVER_DATA_DIR: this.dataDir } });
    return { code: p.exitCode, out: p.stdout.toString(), err: p.stderr.toString() };
  }

  /** A spec file `<name>.yaml` in the server's root. */
  specFile(name: string, body: string): string {
    const f = join(this.root, `${name}.yaml`);
    writeFileSync(f, body);
    return f;
  }

  async start(): Promise<this> {
    const serverFile = join(this.dataDir, 'server.json');
    rmSync(serverFile, { force: true });
    this.proc = Bun.spawn([...DROVER_CMD, 'serve', '--port', '0', '--data-dir', this.dataDir, '--workspace-root', this.root, ...this.args], {
      cwd: this.root, stdout: 'ignore', stderr: 'pipe', env: { ...process.env, ...this.env },
    });
    this.collect();
    let info;
    try {
      info = await waitFor(() => {
        if (this.proc.exitCode !== null) throw new Error(`server exited with ${this.proc.exitCode}: ${this.stderr}`);
        return existsSync(serverFile) && JSON.parse(readFileSync(serverFile, 'utf8'));
      }, { what: 'the server to listen' });
    } catch (err) {
      this.proc.kill('SIGKILL'); // never leave a half-started server behind
      throw err;
    }
    this.url = info.url;
    this.token = readFileSync(join(this.dataDir, 'admin.token'), 'utf8').trim();
    return this;
  }

  private async collect() {
    const reader = (this.proc.stderr as ReadableStream<Uint8Array>).getReader();
    const dec = new TextDecoder();
    for (;;) {
      const { done, value } = await reader.read().catch(() => ({ done: true, value: undefined }));
      if (done) return;
      this.stderr += dec.decode(value);
    }
  }

  async api<T = any>(method: string, path: string, body?: unknown, opts: { token?: string | null; headers?: Record<string, string>; raw?: string } = {}): Promise<ApiResponse<T>> {
    const token = opts.token === undefined ? this.token : opts.token;
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined || opts.raw !== undefined) headers['content-type'] ??= 'application/json';
    const res = await fetch(this.url + (path.startsWith('/healthz') || path.startsWith('/metrics') ? path : `/api/v1${path}`), {
      method, headers, body: opts.raw ?? (body === undefined ? undefined : JSON.stringify(body)),
    });
    const text = await res.text();
    let parsed: any = text;
    try { parsed = JSON.parse(text); } catch { /* text */ }
    return { status: res.status, body: parsed, text, headers: res.headers };
  }

  /** POST /runs with a spec; throws unless accepted. */
  async submit(spec: object, extra: Record<string, unknown> = {}): Promise<any> {
    const r = await this.api('POST', '/runs', { spec, ...extra });
    if (r.status !== 201) throw new Error(`submit failed: ${r.status} ${r.text}`);
    return r.body;
  }

  async waitRun(id: string, pred: (r: any) => boolean = (r) => ['succeeded', 'failed', 'canceled'].includes(r.status), timeoutMs = 30_000): Promise<any> {
    return waitFor(async () => { const r = await this.api('GET', `/runs/${id}`); return pred(r.body) && r.body; }, { timeoutMs, what: `run ${id}` });
  }

  async waitGroup(id: string, pred: (g: any) => boolean = (g) => ['succeeded', 'failed', 'canceled'].includes(g.status), timeoutMs = 60_000): Promise<any> {
    return waitFor(async () => { const r = await this.api('GET', `/groups/${id}`); return pred(r.body) && r.body; }, { timeoutMs, what: `group ${id}` });
  }

  kill9(): void { this.proc.kill('SIGKILL'); }
  async stop(): Promise<void> {
    if (this.proc && this.proc.exitCode === null) { this.proc.kill('SIGTERM'); await this.proc.exited; }
  }
}

/** A fresh root (workspace root = cwd) with a data dir inside it. */
export async function startServer(args: string[] = [], opts: { root?: string; dataDir?: string; env?: Record<string, string> } = {}): Promise<TestServer> {
  const root = opts.root ?? tempDir();
  const dataDir = opts.dataDir ?? join(root, 'data');
  mkdirSync(dataDir, { recursive: true });
  return new TestServer(root, dataDir, args, opts.env).start();
}

/** A one-stage spec of `n` jobs, each running `cmd`. */
export function oneStage(name: string, commands: (string | object)[], extra: Record<string, unknown> = {}) {
  return { name, stages: [{ name: 'main', jobs: [{ name: 'job', commands }] }], ...extra };
}
