// Ids: a type prefix, then a time-ordered base36 stamp and random tail (r_…, g_…, j_…, s_…; q_ alloc queues, a_ allocations).
import { randomBytes } from 'node:crypto';

let last = 0;
let counter = 0;
// random tails come from a pool drawn 4 KiB at a time: one randomBytes call per id cost a quarter
// of the time of a 100,000-run submission
const POOL = 4096;
let pool = randomBytes(POOL);
let used = 0;
function randomHex8(): string {
  if (used + 4 > POOL) { pool = randomBytes(POOL); used = 0; }
  used += 4;
  return pool.toString('hex', used - 4, used);
}
export function newId(prefix: 'r' | 'g' | 'j' | 's' | 't' | 'e' | 'q' | 'a'): string {
  const now = Date.now();
  counter = now === last ? counter + 1 : 0;
  last = now;
  const stamp = now.toString(36).padStart(9, '0') + counter.toString(36).padStart(3, '0');
  return `${prefix}_${stamp}${randomHex8()}`;
}

export const isoNow = (ms = Date.now()): string => new Date(ms).toISOString();
