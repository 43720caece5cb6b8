// The one shape of an end without a result: the job never started, could not be spawned, or its end
// cannot be read; `why` becomes the lost reason (a `spawn_failed: …` or `executor_error: …` prefix makes that the reason).
import type { Observation } from './ports.ts';

export function lostEnd(jobId: string, attempt: number, why: string, finalToken?: string): Observation {
  return { jobId, attempt, state: 'exited', result: { rc: null, commands: [], outputs: {} }, lostReason: why, ...(finalToken ? { finalToken } : {}) };
}
