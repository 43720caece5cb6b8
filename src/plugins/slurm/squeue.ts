// The one squeue call per poll: every job of this user, finished ones included (`--states=all` keeps
// them for MinJobAge, 300 s by default), one line per array task (`-r`). Never `-j <ids>`: with one id
// squeue exits 1 once that job is purged, and with several it silently drops the purged ones.
// Rows are keyed like our handles: `<job id>` or `<array job id>_<task index>`.

export const SQUEUE_FORMAT = 'JobID:0|,ArrayJobID:0|,ArrayTaskID:0|,State:0|,Reason:0|,RestartCnt:0|';

export function squeueArgs(user: string): string[] {
  return ['--noheader', '--array', '--states=all', `--user=${user}`, `--Format=${SQUEUE_FORMAT}`];
}

export interface SqueueRow { key: string; jobId: string; state: string; reason: string; restarts: number }

export function parseSqueue(stdout: string): Map<string, SqueueRow> {
  const rows = new Map<string, SqueueRow>();
  for (const line of stdout.split('\n')) {
    const f = line.trim().split('|');
    if (f.length < 6) continue;
    const [jobId, arrayJobId, task, state, reason, restarts] = f.map((x) => x.trim()) as [string, string, string, string, string, string];
    if (!/^\d+$/.test(jobId)) continue;
    // a pending array's tasks may still be folded (`[3-9%2]`) on old versions: those keys never match a handle
    const key = /^\d+$/.test(task) ? `${arrayJobId}_${task}` : jobId;
    rows.set(key, { key, jobId, state, reason, restarts: Number(restarts) || 0 });
  }
  return rows;
}
