// After a commit: the jobs the transaction started are handed to their executors. Executors that can
// start several at once (sbatch --array) get them together; a failed start comes back as a lost end
// (`executor_error` when the executor's own code failed or hung, else `spawn_failed`).
import { lostEnd } from '../observations.ts';
import { ExecutorError } from '../errors.ts';
import type { Executor, Handle, Logger, Observation } from '../ports.ts';
import type { Start } from './tx-effects.ts';

export interface LaunchHost {
  executors: Map<string, Executor>; log: Logger;
  started(h: { jobId: string; attempt: number; handle: Handle }): void;
  failed(o: Observation): void;
}

export function launchAll(h: LaunchHost, starts: Start[]): void {
  const batched = new Map<string, Start[]>();
  for (const s of starts) {
    if (!h.executors.get(s.job.executor)?.startMany) { launchOne(h, s); continue; }
    const list = batched.get(s.job.executor) ?? [];
    list.push(s);
    batched.set(s.job.executor, list);
  }
  for (const [name, list] of batched) {
    h.executors.get(name)!.startMany!(list.map((s) => s.prepared)).then(
      (handles) => handles.forEach((handle, i) => h.started({ jobId: list[i]!.job.id, attempt: list[i]!.job.attempt, handle })),
      (err) => {
        h.log.error('executor failed to start jobs', { executor: name, err: String(err) });
        for (const s of list) h.failed(lostEnd(s.job.id, s.job.attempt, startFailure(err)));
      },
    );
  }
}

function launchOne(h: LaunchHost, { job, prepared }: Start): void {
  h.executors.get(job.executor)!.start(prepared).then(
    (handle) => h.started({ jobId: job.id, attempt: job.attempt, handle }),
    (err) => {
      h.log.error('executor failed to start job', { jobId: job.id, err: String(err) });
      h.failed(lostEnd(job.id, job.attempt, startFailure(err)));
    },
  );
}

const startFailure = (err: unknown) => err instanceof ExecutorError ? `executor_error: ${err.message}` : `spawn_failed: ${String(err)}`;
