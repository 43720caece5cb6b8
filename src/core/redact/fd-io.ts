// Small file helpers the log copiers share: no link followed, no short write lost.
import { lstatSync, writeSync } from 'node:fs';

/** Whether a name exists, without following it. */
export function lexists(path: string): boolean {
  try { lstatSync(path); return true; } catch { return false; }
}

/** write() until every byte is written (a write may take only part). */
export function writeAll(fd: number, data: Uint8Array): void {
  let at = 0;
  while (at < data.length) at += writeSync(fd, data, at, data.length - at);
}
