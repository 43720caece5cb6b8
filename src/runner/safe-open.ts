// Opening the files a job leaves in its folder without trusting them: a job runs as the server's
// user and could replace logs/0.log (or meta/, outputs.env, raw/…) with a symbolic link, a hard link
// or a FIFO to make the server read and serve another file (admin.token, /etc/passwd). Every file
// drover reads from a job (or run) folder goes through here: opened with O_NOFOLLOW (and O_NONBLOCK,
// so a FIFO cannot hang the server), each folder on the way must be a real folder, and the opened
// descriptor must be a regular file with one link, on the folder's own device. Anything else is an
// UnsafeFile: callers ignore it and say so in the job's log and reason.
// Not here: what a file means (meta.ts), serving it (server/logs.ts, ws/files.ts).
import { openSync, closeSync, fstatSync, lstatSync, readSync, constants } from 'node:fs';
import { join, sep } from 'node:path';

const READ = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

export class UnsafeFile extends Error {
  constructor(readonly rel: string, readonly why: string) {
    super(`${rel} ${why}; drover ignored it`);
    this.name = 'UnsafeFile';
  }
}

function kindOf(st: { isSymbolicLink(): boolean; isFIFO(): boolean; isDirectory(): boolean; isFile(): boolean }): string {
  if (st.isSymbolicLink()) return 'is a symbolic link';
  if (st.isFIFO()) return 'is a FIFO';
  if (st.isDirectory()) return 'is a folder';
  return st.isFile() ? 'is a file' : 'is not a regular file';
}

/**
 * Opens `rel` (relative, `/`-separated) under `dir` for reading, or null when it does not exist.
 * Throws UnsafeFile when it (or a folder on the way) is not what a job's runner writes.
 */
export function openInJob(dir: string, rel: string, flags = READ): number | null {
  const parts = rel.split('/');
  let base: { dev: number };
  try { base = lstatSync(dir); } catch { return null; }
  let at = dir;
  for (const p of parts.slice(0, -1)) {
    at = join(at, p);
    let st;
    try { st = lstatSync(at); } catch { return null; }
    if (!st.isDirectory()) throw new UnsafeFile(parts.slice(0, parts.indexOf(p) + 1).join(sep), kindOf(st));
  }
  let fd: number;
  try { fd = openSync(join(dir, rel), flags | constants.O_NOFOLLOW | constants.O_NONBLOCK); } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    if (code === 'ELOOP' || code === 'EMLINK') throw new UnsafeFile(rel, 'is a symbolic link');
    if (code === 'ENXIO') throw new UnsafeFile(rel, 'is a FIFO or socket');
    throw err;
  }
  const st = fstatSync(fd);
  const why = !st.isFile() ? kindOf(st) : st.nlink !== 1 ? `has ${st.nlink} hard links (a link to another file)` : st.dev !== base.dev ? 'lies on another file system' : null;
  if (why) { closeSync(fd); throw new UnsafeFile(rel, why); }
  return fd;
}

/** Size of a regular file under `dir` without following links (0 when absent or not one). */
export function sizeInJob(dir: string, rel: string): number {
  try {
    const st = lstatSync(join(dir, rel));
    return st.isFile() && st.nlink === 1 ? st.size : 0;
  } catch { return 0; }
}

/** The whole text of `rel`, null when absent; throws UnsafeFile like openInJob. */
export function readInJob(dir: string, rel: string, max = 64 << 20): string | null {
  const fd = openInJob(dir, rel);
  if (fd === null) return null;
  try {
    const size = Math.min(fstatSync(fd).size, max);
    const buf = Buffer.allocUnsafe(size);
    let at = 0;
    while (at < size) { const n = readSync(fd, buf, at, size - at, at); if (n <= 0) break; at += n; }
    return buf.subarray(0, at).toString('utf8');
  } finally { closeSync(fd); }
}

/** Like readInJob, but an unsafe file reads as absent and is reported to `unsafe`. */
export function readInJobOr(dir: string, rel: string, unsafe: string[]): string | null {
  try { return readInJob(dir, rel); } catch (err) {
    if (err instanceof UnsafeFile) { unsafe.push(err.message); return null; }
    return null;
  }
}
