// The files of one job's stored log (logs/<n>.log), each opened once while someone tails the job.
// A read comes with spare room in front of the data, so a binary frame's header can be written in
// place and the bytes are sent without another copy. Reads land in ONE buffer reused by every tail
// of the process (no fresh memory to fault in per chunk, and no per-job buffer when many jobs are
// tailed): a chunk is valid until the next read, which is enough because everything done with it —
// decoding, framing, ws.send (which copies) — happens synchronously.
// Not here: what is read when, and for whom (tail.ts).
import { readSync, closeSync, fstatSync, lstatSync } from 'node:fs';
import { join } from 'node:path';
import { openInJob } from '../runner/safe-open.ts';

/** Bytes kept free before the data of every chunk (a frame header is about 100). */
export const HEAD_ROOM = 192;

/** data = buf[at, at + n); `framed` once a header was written in front of it. */
export interface Chunk { buf: Buffer; at: number; n: number; framed: boolean }

export const dataOf = (c: Chunk): Buffer => c.buf.subarray(c.at, c.at + c.n);

let scratch: Buffer | null = null;

export class LogFiles {
  private fds = new Map<number, number>();
  constructor(private readonly dir: string) {}

  path(i: number): string { return join(this.dir, 'logs', `${i}.log`); }

  private fd(i: number): number | null {
    let fd = this.fds.get(i);
    if (fd !== undefined) return fd;
    // never through a link the job put there (runner/safe-open.ts): such a log reads as absent
    try { const got = openInJob(this.dir, `logs/${i}.log`); if (got === null) return null; fd = got; } catch { return null; }
    this.fds.set(i, fd);
    return fd;
  }

  exists(i: number): boolean {
    if (this.fds.has(i)) return true;
    try { return lstatSync(this.path(i)).isFile(); } catch { return false; }
  }

  /** The file's size now; null when it does not exist (yet). */
  size(i: number): number | null {
    const fd = this.fd(i);
    if (fd === null) return null;
    try { return fstatSync(fd).size; } catch { return null; }
  }

  /** Up to `len` bytes at `off` (valid until the next read); null when there are none. */
  read(i: number, off: number, len: number): Chunk | null {
    const fd = this.fd(i);
    if (fd === null || len <= 0) return null;
    if (!scratch || scratch.length < HEAD_ROOM + len) scratch = Buffer.allocUnsafe(HEAD_ROOM + len);
    const buf = scratch;
    const n = readSync(fd, buf, HEAD_ROOM, len, off);
    return n > 0 ? { buf, at: HEAD_ROOM, n, framed: false } : null;
  }

  close(): void {
    for (const fd of this.fds.values()) { try { closeSync(fd); } catch { /* closed */ } }
    this.fds.clear();
  }
}
