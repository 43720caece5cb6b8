// When an attempt really ended: the runner's own record (the last command's ended_at, from its meta
// file or the agent's report), not the moment the server noticed — a job that exited while the server
// was down must not have the outage added to its duration and cost. Clamped to [started_at, noticed],
// so a skewed clock (a remote agent's) can never move the end before the start or into the future.
import type { JobResult } from '../ports.ts';

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
