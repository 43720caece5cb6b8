// The local executor: runs job.sh detached (own session and process group) so a kill -9 of
// the server leaves the job running; a restarted server re-adopts it by pid + start time.
// Exit of a child is seen at once; adopted (non-child) processes are watched through /proc, and are
// recognised by their command line (bash <job-dir>/job.sh), so a recycled pid is never mistaken for a job.
import { join } from 'node:path';
import { cpus } from 'node:os';
import type { Executor, ExecutorContext, Handle, Observation, PreparedJob } from '../../core/ports.ts';
import { readJobResult, readMarkers } from '../../runner/meta.ts';
import { isOurRunner, killGroup } from './proc.ts';
import { jobEnv } from '../../runner/job-env.ts';
import { Spawner } from './spawner.ts';

const scriptOf = (h: Handle) => join(h.dir, 'job.sh');

export interface LocalOptions { name?: string; slots?: number; watchIntervalMs?: number }

export function createLocalExecutor({ name = 'local', slots = cpus().length, watchIntervalMs = 250 }: LocalOptions = {}) {
  let ctx: ExecutorContext | null = null;
  let spawner: Spawner | null = null;
  const watched = new Map<string, { jobId: string; attempt: number; handle: Handle }>();
  let timer: ReturnType<typeof setInterval> | null = null;

  const exited = (jobId: string, attempt: number, handle: Handle): Observation =>
    ({ jobId, attempt, state: 'exited', result: readJobResult(handle.dir, handle.commandCount) });

  function watch(jobId: string, attempt: number, handle: Handle) {
    watched.set(`${jobId}:${attempt}`, { jobId, attempt, handle });
    timer ??= setInterval(() => {
      for (const [key, w] of watched) {
        if (isOurRunner(w.handle.pid!, scriptOf(w.handle))) continue;
        watched.delete(key);
        ctx?.notify(exited(w.jobId, w.attempt, w.handle));
      }
      if (watched.size === 0 && timer) { clearInterval(timer); timer = null; }
    }, watchIntervalMs);
  }

  const executor = {
    adoptsFromFolder: true, // the runner writes its pid into job.out (adopt reads it when the handle has none)
    signalsProcessGroup: true, // cancel() signals the runner's process group (it runs in its own session)
    init(c: ExecutorContext) { ctx = c; },
    async detect() { return { available: true, slots }; },

    async start(job: PreparedJob): Promise<Handle> {
      spawner ??= new Spawner(jobEnv()); // (the environment as it is once the server has started)
      const proc = await spawner.spawn(['bash', job.script], job.dir);
      const handle: Handle = { executor: name, dir: job.dir, commandCount: job.commandCount, pid: proc.pid };
      proc.exited.then(() => ctx?.notify(exited(job.id, job.attempt, handle)));
      return handle;
    },

    async poll(handles: { jobId: string; attempt: number; handle: Handle }[]): Promise<Observation[]> {
      return handles.map(({ jobId, attempt, handle }) =>
        handle.pid && isOurRunner(handle.pid, scriptOf(handle)) ? { jobId, attempt, state: 'running' as const } : exited(jobId, attempt, handle));
    },

    async cancel(handle: Handle, { graceMs }: { graceMs: number }) {
      const pid = handle.pid ?? readMarkers(handle.dir).pid;
      if (!pid || !isOurRunner(pid, scriptOf(handle))) return;
      killGroup(pid, 'SIGTERM');
      // the whole group, even when the runner itself already left: a child that ignores TERM must go too
      setTimeout(() => killGroup(pid, 'SIGKILL'), graceMs).unref?.();
    },

    /** After a restart: alive → keep watching; gone → read the meta files. */
    async adopt(jobId: string, attempt: number, handle: Handle): Promise<Observation> {
      const pid = handle.pid ?? readMarkers(handle.dir).pid ?? undefined;
      const h = { ...handle, pid };
      if (!pid) return { ...exited(jobId, attempt, h), lostReason: 'never_started' } as Observation;
      if (isOurRunner(pid, scriptOf(h))) {
        watch(jobId, attempt, h);
        return { jobId, attempt, state: 'running' };
      }
      return exited(jobId, attempt, h);
    },
  } satisfies Executor;
  return executor;
}
