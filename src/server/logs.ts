// Reads a job's stored log from byte `offset`: one command's log, or the whole job log (the
// commands' logs one after another). Returns the bytes and the total size.
import { openSync, readSync, closeSync, fstatSync } from 'node:fs';
import { join } from 'node:path';

export function readLog(dir: string, commandCount: number, command: number | null, offset: number): { data: Uint8Array; size: number } {
  const files = command === null ? Array.from({ length: commandCount }, (_, i) => i) : [command];
  const parts: Uint8Array[] = [];
  let size = 0;
  let pos = 0;
  for (const i of files) {
    let fd: number;
    try { fd = openSync(join(dir, 'logs', `${i}.log`), 'r'); } catch { continue; }
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
