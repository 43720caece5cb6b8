// Live tail of one job's stored log, shared by every subscriber of that job (API.md §3).
// The stored log is logs/<n>.log per command; the whole-job log is their concatenation, and a
// whole-log offset is a byte offset into it (GET /jobs/:id/logs serves the same bytes).
//
// While anyone subscribes, a JobTail watches logs/ (inotify through fs.watch, plus a slow fallback
// timer for file systems without it), reads each new chunk ONCE and sends it to every subscriber
// that is caught up. A subscriber that is behind — a resume from an old offset, or a client slower
// than the job — is fed from disk at its own pace (`pump`, again on the socket's drain), so the
// server's memory never depends on how far behind anyone is. Chunks end on UTF-8 character
// boundaries (only the last bytes of a finished file may end mid-character), so `data` is exact
// text and `offset + bytes` is where the next chunk starts. Commands run one after another: file n
// is final once file n+1 exists or the job is terminal; `eof` follows once everything is sent.
// Not here: sockets and their caps (backpressure.ts), channels and auth (hub.ts).
import { statSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { errorMessage, eofMessage, jsonString, logFrame, logMessage } from './protocol.ts';
import { LogFiles, dataOf, type Chunk } from './files.ts';

/** Where subscribers' messages go (a connection; see backpressure.ts). */
export interface Sink { canTakeLog(): boolean; send(msg: string | Uint8Array): boolean }

export class LogSub {
  eof = false;
  /** binary: log chunks as binary frames (header line + raw bytes) instead of JSON text */
  constructor(readonly sink: Sink, readonly job: string, readonly command: number | null, public pos: number, readonly binary = false) {}
}

export interface JobInfo { dir: string; commandCount: number; attempt: number; terminal: boolean }

export interface TailOptions {
  /** the job as the store has it now (null when it is gone) */
  lookup(): JobInfo | null;
  /** bytes per read and per message (default: chunkFor) */
  chunk?: number;
  /** bytes read per pass before yielding to the event loop */
  passBudget?: number;
  fallbackMs?: number;
}

const decoder = new TextDecoder();

const KiB = 1024, MiB = 1024 * KiB;
/** Bytes per read and message. Binary frames: up to 1 MiB, since each frame costs a syscall, a copy
 *  into the socket's queue and a client event, so a reader far behind a fast job streams fastest in
 *  big frames. JSON text: up to 256 KiB, since escaping can make a message 6× its bytes and it must
 *  fit under the connection's hard cap. Smaller as subscribers grow, so that one chunk queued for
 *  each of them stays within ~32 MiB; never under 64 KiB. A read takes what is there, never waits. */
export const chunkFor = (subs: number, json: boolean): number =>
  Math.max(64 * KiB, Math.min(json ? 256 * KiB : MiB, Math.floor((32 * MiB) / Math.max(1, subs))));

/** The length of `buf[0..n)` without an unfinished UTF-8 character at its end. */
export function utf8Cut(buf: Uint8Array, n: number): number {
  for (let back = 1; back <= Math.min(3, n); back++) {
    const b = buf[n - back]!;
    if ((b & 0xc0) === 0x80) continue; // continuation byte: look further back for the lead
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return need > back ? n - back : n;
  }
  return n;
}

export class JobTail {
  readonly subs = new Set<LogSub>();
  private sent: number[] = [];  // bytes of each command's log sent to caught-up subscribers (read once)
  private total = 0;            // sum of sent: the whole-log offset reached
  private cur = 0;              // the command whose log may still grow
  private terminal = false;     // the job is terminal: its files are final
  private final = false;        // terminal, and every byte is read
  private attempt = 0;
  private dir = '';
  private count = 0;
  private files: LogFiles | null = null;
  private watcher: FSWatcher | null = null;
  private watchedIno = 0;
  private timer: ReturnType<typeof setInterval> | null = null;
  private queued = false;
  private jsonSubs = 0;          // subscribers that take JSON text: shared reads stay JSON-sized
  private readonly passBudget: number;

  constructor(readonly job: string, private readonly opts: TailOptions) {
    this.passBudget = opts.passBudget ?? 8 * 1024 * 1024;
    const info = opts.lookup();
    if (info) this.reset(info);
    else this.final = true;
    this.timer = setInterval(() => this.tick(), opts.fallbackMs ?? 500);
    this.timer.unref?.();
  }

  private reset(info: JobInfo): void {
    this.dir = info.dir; this.count = info.commandCount; this.attempt = info.attempt;
    this.sent = new Array(this.count).fill(0);
    this.total = 0; this.cur = 0; this.terminal = info.terminal; this.final = false;
    this.unwatch();
    this.watchedIno = 0;
    this.files?.close();
    this.files = new LogFiles(this.dir);
  }

  private chunk(json: boolean): number { return this.opts.chunk ?? chunkFor(this.subs.size, json); }

  add(sub: LogSub): void {
    if (!this.subs.has(sub) && !sub.binary) this.jsonSubs++;
    this.subs.add(sub);
    this.poll();
    this.pump(sub);
  }

  remove(sub: LogSub): void { if (this.subs.delete(sub) && !sub.binary) this.jsonSubs--; }

  dispose(): void {
    this.unwatch();
    this.files?.close();
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.subs.clear();
    this.jsonSubs = 0;
  }

  /** A status change of this job (from the bus). */
  onStatus(status: string): void {
    const info = this.opts.lookup();
    if (!info) return;
    if (status === 'running' && info.attempt !== this.attempt) return this.restart(info);
    if (info.terminal) this.terminal = true;
    this.poll();
  }

  /** A new attempt moved the old logs aside: everyone starts again at offset 0. */
  private restart(info: JobInfo): void {
    this.reset(info);
    const msg = errorMessage('log_restarted', `job ${this.job} attempt ${info.attempt} started; its log starts again at offset 0`, { job: this.job, attempt: info.attempt });
    for (const s of this.subs) { s.pos = 0; s.eof = false; s.sink.send(msg); }
    this.poll();
  }

  /** The fallback timer: re-watch a replaced logs/ folder, and read in case no event came. */
  private tick(): void {
    if (this.final) return;
    if (this.watchedIno) {
      let ino = 0;
      try { ino = statSync(join(this.dir, 'logs')).ino; } catch { /* gone */ }
      if (ino !== this.watchedIno) { this.unwatch(); this.files?.close(); this.watchedIno = 0; }
    }
    this.poll();
  }

  private ensureWatch(): void {
    if (this.watcher || this.final || !this.dir) return;
    const logs = join(this.dir, 'logs');
    try {
      this.watchedIno = statSync(logs).ino;
      this.watcher = watch(logs, () => this.queuePoll());
      this.watcher.on('error', () => this.unwatch());
    } catch { this.watcher = null; /* not there yet: the timer tries again */ }
  }

  private unwatch(): void {
    try { this.watcher?.close(); } catch { /* closed */ }
    this.watcher = null;
  }

  queuePoll(): void {
    if (this.queued) return;
    this.queued = true;
    setImmediate(() => { this.queued = false; this.poll(); });
  }

  /** Reads what is new (up to a budget per pass), sends it to caught-up subscribers, feeds the rest. */
  poll(): void {
    if (!this.final && this.files) {
      this.ensureWatch();
      let budget = this.passBudget;
      for (;;) {
        const i = this.cur;
        const done = this.terminal || (i + 1 < this.count && this.files.exists(i + 1));
        const r = this.readNew(i, done, budget);
        if (r === 'restarted') return;
        budget -= r.read;
        if (!r.atEnd) { this.queuePoll(); break; } // more to read: continue after the sockets had a turn
        if (!done) break;
        if (i + 1 < this.count) { this.cur++; continue; }
        this.final = true;
        this.unwatch();
        break;
      }
    }
    for (const s of this.subs) if (!s.eof) this.pump(s);
  }

  /** Reads file i from what was sent to its end (or the budget); `done`: the file grows no more. */
  private readNew(i: number, done: boolean, budget: number): { read: number; atEnd: boolean } | 'restarted' {
    const files = this.files!;
    const size = files.size(i);
    if (size === null) return { read: 0, atEnd: true };
    let from = this.sent[i]!, read = 0;
    if (size < from) { // replaced under us: start over
      const info = this.opts.lookup();
      if (info) this.restart(info);
      return 'restarted';
    }
    if (from < size && !this.anyCaughtUp(i, from)) { // nobody to send it to now: skip ahead, they read from disk
      const to = done ? size : this.boundaryBefore(i, size);
      this.sent[i] = to; this.total += to - from;
      return { read: 0, atEnd: to >= size };
    }
    while (from < size && read < budget) {
      const c = files.read(i, from, Math.min(this.chunk(this.jsonSubs > 0), size - from));
      if (!c) break;
      const last = done && from + c.n >= size;
      if (!last) c.n = utf8Cut(dataOf(c), c.n);
      if (c.n === 0) break; // only part of a character so far
      this.broadcast(i, from, c);
      from += c.n; read += c.n;
      this.sent[i] = from; this.total += c.n;
    }
    return { read, atEnd: from >= size };
  }

  private anyCaughtUp(i: number, fileOffset: number): boolean {
    for (const s of this.subs) if ((s.command === null ? s.pos === this.total : s.command === i && s.pos === fileOffset) && s.sink.canTakeLog()) return true;
    return false;
  }

  /** The last UTF-8 character boundary at or before `size` in file i. */
  private boundaryBefore(i: number, size: number): number {
    const back = Math.min(4, size);
    const c = this.files!.read(i, size - back, back);
    return c ? size - back + utf8Cut(dataOf(c), c.n) : size;
  }

  /** One message for one form of a chunk; binary frames get their header in place when they can. */
  private message(s: LogSub, i: number, off: number, c: Chunk, text: () => string): string | Uint8Array {
    if (!s.binary) return logMessage(this.job, i, off, c.n, text());
    if (c.framed) return logFrame(this.job, i, off, dataOf(c));
    const head = Buffer.from(`{"type":"log","job":"${this.job}","command":${i},"offset":${off},"bytes":${c.n}}\n`);
    if (head.length > c.at) return logFrame(this.job, i, off, dataOf(c));
    head.copy(c.buf, c.at - head.length);
    c.framed = true;
    return c.buf.subarray(c.at - head.length, c.at + c.n);
  }

  private broadcast(i: number, fileOffset: number, c: Chunk): void {
    const whole = this.total; // file i is the current one, so its start is at sum(sent before it)
    const msgs = new Map<number, string | Uint8Array>(); // built once per form: (whole | command) × (json | binary)
    let data: string | null = null;
    const text = () => (data ??= jsonString(decoder.decode(dataOf(c))));
    for (const s of this.subs) {
      const isWhole = s.command === null;
      if (isWhole ? s.pos !== whole : s.command !== i || s.pos !== fileOffset) continue;
      if (!s.sink.canTakeLog()) continue; // behind from now on: fed from disk when it drains
      const form = (isWhole ? 0 : 1) + (s.binary ? 2 : 0);
      let msg = msgs.get(form);
      if (msg === undefined) msgs.set(form, (msg = this.message(s, i, isWhole ? whole : fileOffset, c, text)));
      if (s.sink.send(msg)) s.pos += c.n;
    }
  }

  /** The end of what a subscriber may be sent: everything read so far, in its own coordinates. */
  private limitOf(s: LogSub): number { return s.command === null ? this.total : this.sent[s.command] ?? 0; }

  /** Feeds a subscriber that is behind from disk while its socket has room; then `eof` if final. */
  pump(s: LogSub): void {
    while (s.pos < this.limitOf(s) && s.sink.canTakeLog() && this.files) {
      let i: number, off: number;
      if (s.command === null) {
        i = 0; off = s.pos;
        while (i < this.count - 1 && off >= this.sent[i]!) { off -= this.sent[i]!; i++; }
      } else { i = s.command; off = s.pos; }
      const end = this.sent[i]!;
      const c = this.files.read(i, off, Math.min(this.chunk(!s.binary), end - off));
      if (!c) return;
      if (off + c.n < end) c.n = utf8Cut(dataOf(c), c.n) || c.n;
      const msg = this.message(s, i, s.pos, c, () => jsonString(decoder.decode(dataOf(c))));
      if (!s.sink.send(msg)) return;
      s.pos += c.n;
    }
    if (this.final && !s.eof && s.pos >= this.limitOf(s)) {
      if (s.pos > this.limitOf(s)) s.sink.send(errorMessage('bad_offset', `offset ${s.pos} is past the end of the log (${this.limitOf(s)} bytes)`, { job: this.job, size: this.limitOf(s) }));
      s.eof = true;
      s.sink.send(eofMessage(this.job, s.command));
    }
  }
}
