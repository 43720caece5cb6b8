// Process identity on Linux: a pid plus its start time (field 22 of /proc/<pid>/stat), so a
// recycled pid is never mistaken for our job after a server restart.
import { readFileSync } from 'node:fs';

export function processStartTime(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[19]);
  } catch {
    return null;
  }
}

export function isAlive(pid: number, startTime?: number): boolean {
  const st = processStartTime(pid);
  if (st === null) return false;
  try {
    const state = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (/\) Z /.test(state)) return false; // zombie: exited, waiting to be reaped
  } catch { return false; }
  return startTime === undefined || startTime === null || st === startTime;
}

/** Signal a whole process group; ignore "no such process". */
export function killGroup(pid: number, signal: NodeJS.Signals): void {
  try { process.kill(-pid, signal); } catch { /* already gone */ }
}
