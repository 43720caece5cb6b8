// What the runner's own files say about an attempt, beyond exit codes.
// endTimeOf — when an attempt really ended: the runner's own record (the last command's ended_at, from its meta
// file or the agent's report), not the moment the server noticed — a job that exited while the server
// was down must not have the outage added to its duration and cost. Clamped to [started_at, noticed],
// so a skewed clock (a remote agent's) can never move the end before the start or into the future.
import type { JobResult, ExitOutcome } from '../ports.ts';

export function endTimeOf(r: JobResult, startedAt: string | null, noticed: string): string {
  let last = -Infinity;
  for (const c of r.commands) {
    const t = c.ended_at ? Date.parse(c.ended_at) : NaN;
    if (Number.isFinite(t) && t > last) last = t;
  }
  const hi = Date.parse(noticed);
  const lo = startedAt ? Date.parse(startedAt) : -Infinity;
  if (!Number.isFinite(last) || !Number.isFinite(hi) || last > hi) return noticed;
  return new Date(Math.max(last, Number.isFinite(lo) ? lo : last)).toISOString();
}

/** The runner refused to start (workspace_escape), or the job left files that are not its own
 *  (links to other files: unsafe_file) — either fails the attempt whatever the exit code says. */
export function verdictOf(r: JobResult): ExitOutcome | undefined {
  if (r.refused) return { status: 'failed', reason: r.refused.reason, message: r.refused.message };
  if (r.unsafe?.length) return { status: 'failed', reason: 'unsafe_file', message: `the job replaced files drover reads with links or other files: ${r.unsafe.join('; ')}` };
  return undefined;
}
