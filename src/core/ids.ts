// Ids: a type prefix, then a time-ordered base36 stamp and random tail (r_…, g_…, j_…, s_…; q_ alloc queues, a_ allocations).
import { randomBytes } from 'node:crypto';

let last = 0;
let counter = 0;
export function newId(prefix: 'r' | 'g' | 'j' | 's' | 't' | 'e' | 'q' | 'a'): string {
  const now = Date.now();
  counter = now === last ? counter + 1 : 0;
  last = now;
  const stamp = now.toString(36).padStart(9, '0') + counter.toString(36).padStart(3, '0');
  return `${prefix}_${stamp}${randomBytes(4).toString('hex')}`;
}

export const isoNow = (ms = Date.now()): string => new Date(ms).toISOString();
