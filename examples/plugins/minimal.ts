// A complete executor plugin: runs each job's runner script on this machine, detached, and polls it.
// Load it with `drover serve --plugins examples/plugins`; check it with `drover plugin test examples/plugins/minimal.ts`.
import { defineExecutor, exitCode, exited, lost, v, type Handle, type Observation } from 'drover/plugin';

export default defineExecutor({
  apiVersion: 1,
  name: 'minimal',
  settings: v.object({ slots: v.optional(v.number(), 2) }),

  create(settings, host) {
    const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };
    // the runner writes its exit code into the job folder last: present → ended; absent and dead → lost
    const check = (jobId: string, attempt: number, handle: Handle): Observation =>
      exitCode(handle) !== null ? exited(jobId, attempt, handle)
      : alive(handle.pid as number) ? { jobId, attempt, state: 'running' }
      : lost(jobId, attempt, 'the runner died without writing its exit code');

    return {
      async detect() { return { available: true, slots: settings.slots }; },

      async start(job) {
        // its own session: a server killed with -9 leaves it running; cancel signals the whole group
        const p = Bun.spawn(['setsid', 'bash', job.script], { cwd: job.dir, stdio: ['ignore', 'ignore', 'ignore'] });
        p.unref();
        host.log.info('started', { job: job.id, pid: p.pid });
        return { executor: host.name, dir: job.dir, commandCount: job.commandCount, pid: p.pid };
      },

      pollIntervalMs: () => 200,
      async poll(jobs) { return jobs.map((j) => check(j.jobId, j.attempt, j.handle)); },

      async cancel(handle, { graceMs }) {
        const group = -(handle.pid as number);
        try { process.kill(group, 'SIGTERM'); } catch { return; }
        setTimeout(() => { try { process.kill(group, 'SIGKILL'); } catch { /* gone */ } }, graceMs);
      },

      // after a server restart: the same answer a poll gives (running → polled on; ended → its result)
      async adopt(jobId, attempt, handle) { return check(jobId, attempt, handle); },
    };
  },
});
