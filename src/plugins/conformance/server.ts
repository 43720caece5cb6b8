// The private server `drover plugin test` runs the suite against: this very drover (binary or source)
// started as `serve` on a free port and a temp data dir, with the plugin under test loaded; it can be
// killed with SIGKILL and started again on the same data dir (the adoption cases).
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Subprocess } from 'bun';

/** How to run this drover again: the compiled binary itself, or bun with the entry script. */
export function selfCommand(): string[] {
  return Bun.main.startsWith('/$bunfs/') || Bun.main.startsWith('B:/~BUN/') ? [process.execPath] : [process.execPath, Bun.main];
}

export interface ServerSetup {
  dataDir: string;
  workspaceRoot: string;
  /** extra serve flags: the plugin file, its settings */
  args: string[];
  env?: Record<string, string>;
}

export class PrivateServer {
  proc: Subprocess | null = null;
  url = '';
  token = '';
  stderr = '';
  constructor(readonly setup: ServerSetup) {}

  async start(timeoutMs = 30_000): Promise<void> {
    const s = this.setup;
    const info = join(s.dataDir, 'server.json');
    rmSync(info, { force: true });
    this.stderr = '';
    const proc = Bun.spawn([...selfCommand(), 'serve', '--port', '0', '--data-dir', s.dataDir, '--workspace-root', s.workspaceRoot,
      '--plugins', join(s.dataDir, 'no-plugins'), '--kill-grace', '1s', '--shutdown-grace', '3s', ...s.args], {
      cwd: s.workspaceRoot, stdin: 'ignore', stdout: 'ignore', stderr: 'pipe', env: { ...process.env, ...s.env },
    });
    this.proc = proc;
    void (async () => { for await (const chunk of proc.stderr as ReadableStream<Uint8Array>) this.stderr = (this.stderr + new TextDecoder().decode(chunk)).slice(-20_000); })();
    const end = Date.now() + timeoutMs;
    while (!existsSync(info)) {
      if (proc.exitCode !== null) throw new Error(`the server exited with ${proc.exitCode}: ${this.lastLines()}`);
      if (Date.now() > end) throw new Error(`the server did not start within ${timeoutMs} ms: ${this.lastLines()}`);
      await Bun.sleep(50);
    }
    this.url = JSON.parse(readFileSync(info, 'utf8')).url;
    this.token = readFileSync(join(s.dataDir, 'admin.token'), 'utf8').trim();
  }

  lastLines(n = 3): string { return this.stderr.trim().split('\n').slice(-n).join(' | '); }

  /** kill -9: no clean stop, detached jobs keep running */
  async kill9(): Promise<void> {
    if (!this.proc) return;
    this.proc.kill('SIGKILL');
    await this.proc.exited;
    this.proc = null;
  }

  async stop(): Promise<void> {
    if (!this.proc) return;
    this.proc.kill('SIGTERM');
    const done = await Promise.race([this.proc.exited.then(() => true), Bun.sleep(8000).then(() => false)]);
    if (!done) this.proc.kill('SIGKILL');
    this.proc = null;
  }

  async api<T = any>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const res = await fetch(`${this.url}/api/v1${path}`, {
      method, headers: { authorization: `Bearer ${this.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try { parsed = JSON.parse(text); } catch { /* text */ }
    return { status: res.status, body: parsed as T };
  }

  /** A job's stored log (one command's, or the whole job's), as bytes. */
  async log(jobId: string, command?: number): Promise<Uint8Array> {
    const res = await fetch(`${this.url}/api/v1/jobs/${jobId}/logs${command === undefined ? '' : `?command=${command}`}`, { headers: { authorization: `Bearer ${this.token}` } });
    if (!res.ok) throw new Error(`GET logs of ${jobId}: ${res.status}`);
    return new Uint8Array(await res.arrayBuffer());
  }
}
