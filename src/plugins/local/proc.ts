// Process identity on Linux: a pid is ours only while its command line names our job script, so a
// recycled pid is never mistaken for a job after a server restart.
import { readFileSync } from 'node:fs';

/** Signal a whole process group; ignore "no such process". */
export function killGroup(pid: number, signal: NodeJS.Signals): void {
  try { process.kill(-pid, signal); } catch { /* already gone */ }
}

/** True when `pid` is alive and is the runner of `script` (its command line names the script). */
export function isOurRunner(pid: number, script: string): boolean {
  try {
    if (/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))) return false;
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(script);
  } catch {
    return false;
  }
}
