// Starting a job's process off the main thread. A Bun.spawn holds the JS thread for about 0.3–1.5 ms
// (fork/exec bookkeeping); at hundreds of jobs a second that is time the scheduler, SQLite and HTTP
// need. Two Workers do the spawning: the main thread only posts a message (about 0.15 ms with a
// loaded machine) and hears back the pid, then the exit. The processes are the server's children as
// before, detached in their own session, so a kill -9 of the server leaves them running and a new
// server re-adopts them (the same as a spawn on the main thread). Where a Worker cannot start, the
// main thread spawns.
// The Worker's code is inline (a Blob URL), so the compiled binary needs no extra entrypoint.
import { readFileSync } from 'node:fs';

const WORKER_CODE = `
let env = {};
self.onmessage = (e) => {
  const m = e.data;
  if (m.env) { env = m.env; return; }
  try {
    const p = Bun.spawn(m.argv, { cwd: m.cwd, env, stdin: 'ignore', stdout: 'ignore', stderr: 'ignore', detached: true });
    postMessage({ id: m.id, pid: p.pid });
    p.exited.then((code) => postMessage({ id: m.id, exit: code }), () => postMessage({ id: m.id, exit: -1 }));
  } catch (err) { postMessage({ id: m.id, error: String(err) }); }
};`;

export interface Spawned { pid: number; exited: Promise<void> }

interface Pending { worker: Worker; pid: number | null; started: (pid: number) => void; failed: (err: Error) => void; exited: () => void }

export class Spawner {
  private workers: Worker[] | null = null;
  private next = 0;
  private seq = 0;
  private readonly pending = new Map<number, Pending>();

  /** `env`: the environment of every process it starts (sent to each Worker once) */
  constructor(private readonly env: Record<string, string>, private readonly count = 2) {}

  spawn(argv: string[], cwd: string): Promise<Spawned> {
    const ws = this.pool();
    if (!ws) return Promise.resolve(spawnHere(argv, cwd, this.env));
    const id = ++this.seq;
    let exited!: () => void;
    const done = new Promise<void>((r) => { exited = r; });
    return new Promise<Spawned>((resolve, reject) => {
      const worker = ws[this.next++ % ws.length]!;
      this.pending.set(id, { worker, pid: null, started: (pid) => resolve({ pid, exited: done }), failed: reject, exited });
      worker.postMessage({ id, argv, cwd });
    });
  }

  private pool(): Worker[] | null {
    if (this.workers) return this.workers.length ? this.workers : null;
    try {
      const url = URL.createObjectURL(new Blob([WORKER_CODE], { type: 'application/javascript' }));
      this.workers = Array.from({ length: this.count }, () => {
        const w = new Worker(url, { ref: false } as WorkerOptions); // (never what keeps the server alive)
        w.postMessage({ env: this.env });
        w.onmessage = (e: MessageEvent) => this.answer(e.data as { id: number; pid?: number; exit?: number; error?: string });
        w.addEventListener('error', () => this.lost(w));
        return w;
      });
    } catch {
      this.workers = []; // no Workers here: spawn on the main thread
    }
    return this.workers.length ? this.workers : null;
  }

  private lost(w: Worker): void {
    this.workers = (this.workers ?? []).filter((x) => x !== w); // the others carry on; none left: the main thread spawns
    for (const [id, p] of this.pending) {
      if (p.worker !== w) continue;
      this.pending.delete(id);
      if (p.pid === null) p.failed(new Error('the spawner thread died before the job started'));
      else watchExit(p.pid, p.exited);
    }
  }

  private answer(m: { id: number; pid?: number; exit?: number; error?: string }): void {
    const p = this.pending.get(m.id);
    if (!p) return;
    if (m.error !== undefined) { this.pending.delete(m.id); p.failed(new Error(m.error)); }
    else if (m.pid !== undefined) { p.pid = m.pid; p.started(m.pid); }
    else if (m.exit !== undefined) { this.pending.delete(m.id); p.exited(); }
  }
}

/** A Worker died: its jobs' exits are watched from here instead (the processes live on: they are detached). */
function watchExit(pid: number, exited: () => void): void {
  const t = setInterval(() => { if (!running(pid)) { clearInterval(t); exited(); } }, 250);
}

/** Alive and not a zombie (a child whose thread is gone stays a zombie: nobody waits for it). */
function running(pid: number): boolean {
  try { return !/^\d+ \(.*\) Z /s.test(readFileSync(`/proc/${pid}/stat`, 'utf8')); } catch { return false; }
}

function spawnHere(argv: string[], cwd: string, env: Record<string, string>): Spawned {
  const p = Bun.spawn(argv, { cwd, env, stdin: 'ignore', stdout: 'ignore', stderr: 'ignore', detached: true });
  p.unref();
  return { pid: p.pid, exited: p.exited.then(() => {}) };
}
