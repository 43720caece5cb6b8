// The local executor: runs job.sh detached (own session and process group) so a kill -9 of
// the server leaves the job running; a restarted server re-adopts it by pid + start time.
// Exit of a child is seen at once; adopted (non-child) processes are watched through /proc.
import { openSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { cpus } from 'node:os';
import type { Executor, ExecutorContext, Handle, Observation, PreparedJob } from '../../core/ports.ts';
import { readJobResult, readMarkers } from '../../runner/meta.ts';
import { processStartTime, isAlive, killGroup } from './proc.ts';

export interface LocalOptions { name?: string; slots?: number; watchIntervalMs?: number }

export function createLocalExecutor({ name = 'local', slots = cpus().length, watchIntervalMs = 250 }: LocalOptions = {}) {
  let ctx: ExecutorContext | null = null;
  const watched = new Map<string, { jobId: string; attempt: number; handle: Handle }>();
  let timer: ReturnType<typeof setInterval> | null = null;

  const exited = (jobId: string, attempt: number, handle: Handle): Observation =>
    ({ jobId, attempt, state: 'exited', result: readJobResult(handle.dir, handle.commandCount) });

  function watch(jobId: string, attempt: number, handle: Handle) {
    watched.set(`${jobId}:${attempt}`, { jobId, attempt, handle });
    timer ??= setInterval(() => {
      for (const [key, w] of watched) {
        if (isAlive(w.handle.pid!, w.handle.startTime)) continue;
        watched.delete(key);
        ctx?.notify(exited(w.jobId, w.attempt, w.handle));
      }
      if (watched.size === 0 && timer) { clearInterval(timer); timer = null; }
    }, watchIntervalMs);
  }

  const executor = {
    name,
    capabilities: { gpus: false, arrays: false, survivesServerRestart: true },
    init(c: ExecutorContext) { ctx = c; },
    async detect() { return { available: true, slots }; },

    async start(job: PreparedJob): Promise<Handle> {
      const out = openSync(join(job.dir, 'job.out'), 'a', 0o600);
      let proc;
      try {
        proc = Bun.spawn(['bash', job.script], { cwd: job.dir, stdin: 'ignore', stdout: out, stderr: out, detached: true, env: process.env as Record<string, string> });
      } finally {
        closeSync(out);
      }
      const handle: Handle = { executor: name, dir: job.dir, commandCount: job.commandCount, pid: proc.pid, startTime: processStartTime(proc.pid) ?? undefined };
      proc.exited.then(() => ctx?.notify(exited(job.id, job.attempt, handle)));
      proc.unref();
      return handle;
    },

    async poll(handles: { jobId: string; attempt: number; handle: Handle }[]): Promise<Observation[]> {
      return handles.map(({ jobId, attempt, handle }) =>
        handle.pid && isAlive(handle.pid, handle.startTime) ? { jobId, attempt, state: 'running' as const } : exited(jobId, attempt, handle));
    },

    async cancel(handle: Handle, { graceMs }: { graceMs: number }) {
      const pid = handle.pid ?? readMarkers(handle.dir).pid;
      if (!pid || !isAlive(pid, handle.pid ? handle.startTime : undefined)) return;
      killGroup(pid, 'SIGTERM');
      setTimeout(() => { if (isAlive(pid)) killGroup(pid, 'SIGKILL'); }, graceMs).unref?.();
    },

    /** After a restart: alive → keep watching; gone → read the meta files. */
    async adopt(jobId: string, attempt: number, handle: Handle): Promise<Observation> {
      const pid = handle.pid ?? readMarkers(handle.dir).pid ?? undefined;
      const h = { ...handle, pid, startTime: handle.pid ? handle.startTime : undefined };
      if (!pid) return { ...exited(jobId, attempt, h), lostReason: 'never_started' } as Observation;
      if (pid && isAlive(pid, h.startTime)) {
        watch(jobId, attempt, h);
        return { jobId, attempt, state: 'running' };
      }
      return exited(jobId, attempt, h);
    },
  } satisfies Executor;
  return executor;
}
