// The redacting log copier of one job with secrets: the runner writes raw output to raw/<n>.log
// (0600); this copies it, redacted, to logs/<n>.log — the stored log that the API, the WebSocket
// tail and the web page serve. Driven by fs.watch on raw/ plus a short fallback timer (like
// ws/tail.ts), it reads each raw file from where it left off, and hands the redactor what it has:
// bytes that may be the start of a secret continuing in the next write stay in raw/ and are offered
// again with what follows. Commands run one after another, so raw/<n>.log is final once
// raw/<n+1>.log exists (or the job has ended: drain()). The whole-job log is the commands' logs one
// after another, so the tail of one command is redacted together with the head of the next
// (Redactor.splitAt): a secret printed half by each is one marker at the end of the first's log. Progress (command, raw offset, stored size)
// is kept in raw.progress after each append, so a restarted server resumes exactly: it truncates the
// stored log to the recorded size and re-reads raw from the recorded offset.
// The per-job log cap (--max-log-size) is enforced here: past it, one marker line, the rest dropped.
// Files the job could have replaced (raw/<n>.log, logs/<n>.log, outputs.env) are never followed
// through a link (runner/safe-open.ts): such a raw log is skipped with a warning line in the stored log,
// listed in `unsafe`, and the job fails unsafe_file.
// Not here: finding secrets (redactor.ts), when a job ends (pool.ts).
import { openSync, readSync, closeSync, fstatSync, lstatSync, unlinkSync, watch, readFileSync, writeFileSync, rmSync, truncateSync, renameSync, constants, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { openInJob, readInJobOr, UnsafeFile } from '../../runner/safe-open.ts';
import { lexists, writeAll } from './fd-io.ts';
export { writeAll };
import type { Redactor } from './redactor.ts';
import type { Logger } from '../ports.ts';

export interface CopierOptions {
  /** the job folder: raw/ in, logs/ out */
  dir: string;
  commandCount: number;
  redactor: Redactor;
  /** bytes of stored log per job; null: no cap */
  maxLogSize: number | null;
  fallbackMs?: number;
  /** bytes per read */
  chunk?: number;
  /** bytes copied per pass before yielding to the event loop */
  passBudget?: number;
  log?: Logger;
}

interface Progress { cmd: number; raw: number; log: number; total: number; capped: boolean }

export const capMarker = (max: number) => Buffer.from(`\n[drover: the log reached --max-log-size (${max} bytes); the rest of the output was dropped]\n`);

export class Copier {
  private p: Progress = { cmd: 0, raw: 0, log: 0, total: 0, capped: false };
  private fd: number | null = null;
  private fdCmd = -1;
  private buf: Buffer;
  private watcher: FSWatcher | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;
  private queued = false;
  private stopped = false;
  private readonly chunk: number;
  private readonly budget: number;
  private readonly progressFile: string;
  /** files of the job that were not its own regular files (ignored; the job fails unsafe_file) */
  readonly unsafe: string[] = [];

  constructor(private readonly o: CopierOptions) {
    // a chunk must hold a whole pattern with room to spare, or a long secret could stall the copy
    this.chunk = Math.max(o.chunk ?? 4 << 20, 4 * o.redactor.maxLen + 4096);
    this.budget = o.passBudget ?? 16 << 20;
    this.buf = Buffer.allocUnsafe(this.chunk);
    this.progressFile = join(o.dir, 'raw.progress');
    this.resume();
  }

  get dir(): string { return this.o.dir; }
  get redactor(): Redactor { return this.o.redactor; }

  /** Watch raw/ and copy as output arrives. */
  start(): this {
    try {
      this.watcher = watch(join(this.o.dir, 'raw'), () => this.queuePass());
      this.watcher.on('error', () => { try { this.watcher?.close(); } catch { /* closed */ } this.watcher = null; });
    } catch { /* no inotify here: the timer does it */ }
    this.timer = setInterval(() => this.queuePass(), this.o.fallbackMs ?? 250);
    this.timer.unref?.();
    this.queuePass();
    return this;
  }

  /** Stop watching (server shutdown); progress stays on disk for the next server. */
  stop(): void {
    this.stopped = true;
    try { this.watcher?.close(); } catch { /* closed */ }
    this.watcher = null;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.closeFd();
  }

  /** The job has ended: copy everything that is left (no more holding back), then remove raw/. */
  async drain(): Promise<void> {
    this.stop();
    while (this.pass(true)) await new Promise((r) => setImmediate(r));
    this.closeFd();
    rmSync(join(this.o.dir, 'raw'), { recursive: true, force: true });
    rmSync(this.progressFile, { force: true });
    rmSync(join(this.o.dir, '.secrets'), { force: true });
    rmSync(join(this.o.dir, 'secrets.sealed'), { force: true }); // pool.ts: kept only until the log is final
    this.redactOutputs();
  }

  private queuePass(): void {
    if (this.queued || this.stopped) return;
    this.queued = true;
    setImmediate(() => {
      this.queued = false;
      if (this.stopped) return;
      try {
        if (this.pass(false)) this.queuePass();
      } catch (err) {
        this.o.log?.warn('log copier pass failed; will retry', { dir: this.o.dir, err: String(err) });
      }
    });
  }

  private raw(i: number) { return join(this.o.dir, 'raw', `${i}.log`); }
  private stored(i: number) { return join(this.o.dir, 'logs', `${i}.log`); }

  /** Copies what is there (up to the budget); true when there is more to copy right away. */
  pass(final: boolean): boolean {
    let budget = this.budget;
    const start = { ...this.p };
    try {
      while (this.p.cmd < this.o.commandCount) {
        const i = this.p.cmd;
        let size: number | null;
        try { size = this.rawSize(i); } catch (err) {
          if (!(err instanceof UnsafeFile)) throw err;
          this.unsafe.push(err.message);
          this.write(this.open(i), Buffer.from(`[drover: ${err.message}]\n`));
          this.p = { ...this.p, cmd: i + 1, raw: 0, log: 0 };
          continue;
        }
        if (size === null) {
          // not started (yet, or ever); a later command's file means this one never will be
          if (i + 1 >= this.o.commandCount || !lexists(this.raw(i + 1))) break;
          this.p = { ...this.p, cmd: i + 1, raw: 0, log: 0 };
          continue;
        }
        const next = i + 1 < this.o.commandCount && lexists(this.raw(i + 1));
        const done = final || next;
        if (done) size = this.rawSize(i)!; // what the finished command left, all of it
        const fd = this.open(i);
        while (this.p.raw < size && budget > 0) {
          const len = readSync(this.rawFd(i)!, this.buf, 0, Math.min(this.chunk, size - this.p.raw), this.p.raw);
          if (len <= 0) break;
          // the tail of a command followed by another is decided together with the next one's head
          const last = done && !next && this.p.raw + len >= size;
          const { out, consumed } = this.o.redactor.scan(this.buf.subarray(0, len), last);
          this.write(fd, out);
          this.p.raw += consumed;
          budget -= Math.max(consumed, 1);
          if (consumed === 0) break; // only a possible secret's start so far: wait for more
        }
        let to = { cmd: i + 1, raw: 0 };
        if (this.p.raw < size) {
          if (budget <= 0) return true;
          if (!done || !next) return false;
          const at = this.acrossBoundary(i, size, final);
          if (at === null) return false; // wait for more of the next commands' output
          to = at;
        }
        if (!done) break;
        this.closeFd();
        this.p = { ...this.p, cmd: to.cmd, raw: to.raw, log: 0 };
      }
      return false;
    } finally {
      if (this.p.cmd !== start.cmd || this.p.raw !== start.raw || this.p.log !== start.log) this.save();
    }
  }

  private rawFds = new Map<number, number>();
  /** raw/<i>.log, opened once and never through a link (null: not there yet; throws UnsafeFile). */
  private rawFd(i: number): number | null {
    let fd = this.rawFds.get(i);
    if (fd === undefined) {
      for (const [k, f] of this.rawFds) { closeSync(f); this.rawFds.delete(k); }
      const got = openInJob(this.o.dir, `raw/${i}.log`);
      if (got === null) return null;
      fd = got;
      this.rawFds.set(i, fd);
    }
    return fd;
  }

  /**
   * Command i is done and a later one has begun: its held-back tail is redacted together with the start
   * of what follows (the next commands' output, enough to decide any pattern that starts in the tail).
   * Writes the tail to logs/<i>; returns where copying goes on — past the bytes that a secret across the
   * boundary took (their commands' logs stay empty) — or null while too little follows to decide.
   */
  private acrossBoundary(i: number, size: number, final: boolean): { cmd: number; raw: number } | null {
    const tail = Buffer.allocUnsafe(size - this.p.raw);
    const got = readSync(this.rawFd(i)!, tail, 0, tail.length, this.p.raw);
    const need = this.o.redactor.maxLen;
    const pieces: { cmd: number; bytes: Buffer }[] = [];
    let have = 0;
    let more = false; // a command that may still print (before `need` bytes were found)
    for (let j = i + 1; j < this.o.commandCount && have < need; j++) {
      let size = 0;
      try { size = this.rawSize(j) ?? 0; } catch { /* not the job's own file: the next pass reports it */ }
      const bytes = Buffer.allocUnsafe(Math.min(size, need - have));
      const n = bytes.length ? readSync(this.rawFd(j)!, bytes, 0, bytes.length, 0) : 0;
      pieces.push({ cmd: j, bytes: bytes.subarray(0, n) });
      have += n;
      const done = final || (j + 1 < this.o.commandCount && lexists(this.raw(j + 1)));
      if (!done) { more = have < need; break; }
    }
    const { head, skip, pending } = this.o.redactor.splitAt(Buffer.concat([tail.subarray(0, got), ...pieces.map((p) => p.bytes)]), got);
    if (pending && more) return null; // what command j prints next decides it: wait
    this.write(this.open(i), head);
    this.p.raw = size;
    let left = skip;
    for (const p of pieces) {
      if (left < p.bytes.length || p === pieces[pieces.length - 1]) return { cmd: p.cmd, raw: left };
      left -= p.bytes.length;
      this.closeFd();
      this.open(p.cmd); // swallowed whole by the marker: its stored log exists, empty
    }
    return { cmd: i + 1, raw: 0 };
  }

  private rawSize(i: number): number | null {
    const fd = this.rawFd(i);
    return fd === null ? null : fstatSync(fd).size;
  }

  /** The stored log of command i, opened for appending (created empty, so the tail sees it exist). */
  private open(i: number): number {
    if (this.fd !== null && this.fdCmd === i) return this.fd;
    this.closeFd();
    const flags = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW;
    try { this.fd = openSync(this.stored(i), flags, 0o600); } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ELOOP') throw err;
      unlinkSync(this.stored(i)); // a link the job put where the stored log goes: removed, never written through
      this.fd = openSync(this.stored(i), flags, 0o600);
    }
    this.fdCmd = i;
    return this.fd;
  }

  private closeFd(): void {
    if (this.fd !== null) { try { closeSync(this.fd); } catch { /* closed */ } }
    this.fd = null; this.fdCmd = -1;
    for (const f of this.rawFds.values()) { try { closeSync(f); } catch { /* closed */ } }
    this.rawFds.clear();
  }

  private write(fd: number, out: Uint8Array): void {
    if (this.p.capped || out.length === 0) return;
    const max = this.o.maxLogSize;
    if (max !== null && this.p.total + out.length > max) {
      const keep = Math.max(0, max - this.p.total);
      const mark = capMarker(max);
      writeAll(fd, out.subarray(0, keep));
      writeAll(fd, mark);
      this.p.total += keep + mark.length; this.p.log += keep + mark.length;
      this.p.capped = true;
      return;
    }
    writeAll(fd, out);
    this.p.total += out.length; this.p.log += out.length;
  }

  /** Written after the bytes it counts: a crash in between leaves extra stored bytes, cut on resume. */
  private save(): void {
    const tmp = this.progressFile + '.tmp';
    writeFileSync(tmp, JSON.stringify(this.p), { mode: 0o600 });
    renameSync(tmp, this.progressFile);
  }

  private resume(): void {
    let saved: Progress | null = null;
    try { saved = JSON.parse(readFileSync(this.progressFile, 'utf8')) as Progress; } catch { /* fresh */ }
    if (!saved) return;
    this.p = saved;
    const path = this.stored(saved.cmd);
    try { const st = lstatSync(path); if (st.isFile() && st.size > saved.log) truncateSync(path, saved.log); } catch { /* not there */ }
  }

  /** outputs.env is written by the job itself: a secret it wrote there must not stay on disk. */
  private redactOutputs(): void {
    const file = join(this.o.dir, 'outputs.env');
    const text = readInJobOr(this.o.dir, 'outputs.env', this.unsafe);
    if (text === null) return;
    const red = this.o.redactor.redactString(text);
    if (red === text) return;
    const tmp = file + '.tmp';
    rmSync(tmp, { force: true });
    writeFileSync(tmp, red, { mode: 0o600, flag: 'wx' });
    renameSync(tmp, file); // replaces the name, never writes through a link
  }
}

