// Reads a job's stored log from byte `offset`: one command's log, or the whole job log (the
// commands' logs one after another). Returns the bytes and the total size. A log the job replaced
// with a link (or anything but its own regular file) is never followed: it reads as empty here, and
// becomes a warning line when the job ends (runner/meta.ts).
import { readSync, closeSync, fstatSync } from 'node:fs';
import { openInJob } from '../runner/safe-open.ts';

export function readLog(dir: string, commandCount: number, command: number | null, offset: number): { data: Uint8Array; size: number } {
  const files = command === null ? Array.from({ length: commandCount }, (_, i) => i) : [command];
  const parts: Uint8Array[] = [];
  let size = 0;
  let pos = 0;
  for (const i of files) {
    let fd: number;
    try { const got = openInJob(dir, `logs/${i}.log`); if (got === null) continue; fd = got; } catch { continue; }
    try {
      const len = fstatSync(fd).size;
      size += len;
      const from = Math.max(0, offset - pos);
      if (from < len) {
        const buf = new Uint8Array(len - from);
        readSync(fd, buf, 0, buf.length, from);
        parts.push(buf);
      }
      pos += len;
    } finally { closeSync(fd); }
  }
  const total = parts.reduce((a, p) => a + p.length, 0);
  const data = new Uint8Array(total);
  let at = 0;
  for (const p of parts) { data.set(p, at); at += p.length; }
  return { data, size };
}
