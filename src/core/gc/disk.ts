// Bytes on disk under a folder, for GC reports.
import { readdirSync, lstatSync } from 'node:fs';
import { join } from 'node:path';

/** Bytes under a path (files as stored, symlinks not followed). */
export function diskUsage(path: string): number {
  let total = 0;
  let st;
  try { st = lstatSync(path); } catch { return 0; }
  if (!st.isDirectory()) return st.size;
  total += st.size;
  let names: string[];
  try { names = readdirSync(path); } catch { return total; }
  for (const n of names) total += diskUsage(join(path, n));
  return total;
}
