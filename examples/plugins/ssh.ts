// An executor plugin that runs jobs on other machines over OpenSSH.
//   drover serve --plugins examples/plugins --plugin-opt 'ssh.hosts=["node1:8","node2:8"]'
// Like Slurm, it needs the job folder at the same path on every host (a shared filesystem): the runner
// script writes its logs, meta and exit code there, and drover reads the result from there.
//   - one multiplexed connection per host (ControlMaster): a job start or a poll costs no handshake
//   - a job runs as `setsid nohup bash job.sh` on the host: its own session, so it survives the server
//     and the ssh connection, and its process group is what cancel signals
//   - an ended job is seen in its folder (the runner's exit code); one ssh call per host per poll_ms reads
//     the state of every other job on that host (still running, or gone without an exit code)
//   - adopt after a restart asks the host the same question a poll does, so a job is never started twice
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineExecutor, exitCode, exited, lost, shellQuote, v, type Handle, type Observation } from 'drover/plugin';

const Host = v.union([
  v.pipe(v.string(), v.regex(/^[^\s:]+(:\d+)?$/, 'a host is "name" or "name:slots"')),
  v.strictObject({ host: v.string(), slots: v.optional(v.number()), port: v.optional(v.number()), user: v.optional(v.string()) }),
]);

const Settings = v.object({
  /** "name" or "name:slots", or {host, slots, port, user} */
  hosts: v.pipe(v.array(Host), v.minLength(1, 'name at least one host')),
  /** slots of a host that names none */
  slots: v.optional(v.number(), 4),
  /** extra ssh arguments (an identity file, known-hosts options…) */
  ssh_options: v.optional(v.array(v.string()), []),
  /** how often running jobs are polled */
  poll_ms: v.optional(v.number(), 1000),
  /** the longest one ssh call may take */
  call_timeout_ms: v.optional(v.number(), 20_000),
});

interface Target { host: string; slots: number; port?: number; user?: string }
interface SshHandle extends Handle { host: string; pid?: number }

export default defineExecutor({
  apiVersion: 1,
  name: 'ssh',
  settings: Settings,
  // `drover plugin test`: a host where nothing listens makes the backend missing
  conformance: { unavailable: { hosts: [{ host: '127.0.0.1', port: 1 }] } },

  create(s, host) {
    const targets: Target[] = s.hosts.map((h) => typeof h === 'string'
      ? { host: h.split(':')[0]!, slots: h.includes(':') ? Number(h.split(':')[1]) : s.slots }
      : { host: h.host, slots: h.slots ?? s.slots, port: h.port, user: h.user });
    // control sockets: short paths (a unix socket path has ~100 bytes), one dir per data dir
    const controlDir = join(tmpdir(), `drover-ssh-${process.getuid?.() ?? 0}-${createHash('sha256').update(host.dataDir).digest('hex').slice(0, 8)}`);
    mkdirSync(controlDir, { recursive: true, mode: 0o700 });
    const key = (t: Target) => `${t.user ? `${t.user}@` : ''}${t.host}${t.port ? `:${t.port}` : ''}`;
    const byKey = new Map(targets.map((t) => [key(t), t]));
    /** jobs each host runs now (start/adopt add, an end removes): where the next job goes */
    const load = new Map<string, Set<string>>(targets.map((t) => [key(t), new Set()]));
    const unreachable = new Map<string, string>();
    /** when each host was last asked for its jobs' states */
    const asked = new Map<string, number>();

    async function ssh(t: Target, command: string): Promise<{ code: number; out: string; err: string }> {
      const argv = ['ssh', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=10', '-o', 'ControlMaster=auto', '-o', `ControlPath=${controlDir}/%C`, '-o', 'ControlPersist=120',
        ...(t.port ? ['-p', String(t.port)] : []), ...(t.user ? ['-l', t.user] : []), ...s.ssh_options, t.host, command];
      // the master a first call leaves behind (ControlPersist) must not hold our pipes open
      const p = Bun.spawn(argv, { stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' });
      const timer = setTimeout(() => p.kill('SIGKILL'), s.call_timeout_ms);
      const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
      clearTimeout(timer);
      return { code, out, err: err.trim().split('\n').slice(-1)[0] ?? '' };
    }

    /** The state of jobs on one host, one ssh call: ended (exit code written), running (our runner alive), or gone. */
    async function states(t: Target, jobs: { jobId: string; handle: SshHandle }[]): Promise<Map<string, 'ended' | 'running' | 'gone'>> {
      const script = jobs.map(({ jobId, handle }) => {
        const d = shellQuote(handle.dir), id = shellQuote(jobId);
        return `p=$(sed -n 's/^__DROVER_PID=//p' ${d}/job.out 2>/dev/null | head -n1); ` +
          `if grep -q '^__DROVER_RC=' ${d}/job.out 2>/dev/null; then echo ${id} ended; ` +
          `elif [ -n "$p" ] && grep -qF ${shellQuote(`${handle.dir}/job.sh`)} /proc/$p/cmdline 2>/dev/null; then echo ${id} running; ` +
          `elif [ -z "$p" ] && pgrep -f -- ${shellQuote(`${handle.dir}/job.sh`)} >/dev/null; then echo ${id} running; ` + // started, pid not yet printed
          `else echo ${id} gone; fi`;
      }).join('\n');
      const r = await ssh(t, script);
      if (r.code !== 0) throw new Error(`ssh ${key(t)}: ${r.err || `exit ${r.code}`}`);
      const out = new Map<string, 'ended' | 'running' | 'gone'>();
      for (const line of r.out.split('\n')) { const [id, st] = line.split(' '); if (id && st) out.set(id, st as 'ended'); }
      return out;
    }

    const hostOf = (h: SshHandle) => byKey.get(h.host);
    const observe = (jobId: string, attempt: number, h: SshHandle, st: 'ended' | 'running' | 'gone' | undefined): Observation => {
      if (st === 'running') { load.get(h.host)?.add(jobId); return { jobId, attempt, state: 'running' }; }
      load.get(h.host)?.delete(jobId);
      return st === 'ended' ? exited(jobId, attempt, h) : lost(jobId, attempt, `the job is gone from ${h.host} without an exit code`);
    };

    return {
      async detect() {
        const alive = await Promise.all(targets.map(async (t) => {
          const r = await ssh(t, 'true').catch((e) => ({ code: -1, err: String(e) }));
          if (r.code === 0) unreachable.delete(key(t)); else unreachable.set(key(t), r.err || `exit ${r.code}`);
          return r.code === 0 ? t.slots : 0;
        }));
        const slots = alive.reduce((a, b) => a + b, 0);
        return slots > 0 ? { available: true, slots }
          : { available: false, slots: 0, reason: `no host answers over ssh (${[...unreachable].map(([h, e]) => `${h}: ${e}`).join('; ')})` };
      },

      async start(job) {
        // the least-loaded reachable host with a free slot; on an ssh failure the next one
        const order = targets.filter((t) => !unreachable.has(key(t)) && load.get(key(t))!.size < t.slots)
          .sort((a, b) => load.get(key(a))!.size / a.slots - load.get(key(b))!.size / b.slots);
        let last = 'no host has a free slot';
        for (const t of order) {
          // a simple command in the background (not a list: its subshell would hold the session open)
          const cmd = `cd ${shellQuote(job.dir)} || exit 1; setsid nohup bash ${shellQuote(job.script)} </dev/null >/dev/null 2>&1 &`;
          const r = await ssh(t, cmd);
          if (r.code === 0) {
            load.get(key(t))!.add(job.id);
            host.log.info('started', { job: job.id, host: key(t) });
            return { executor: host.name, dir: job.dir, commandCount: job.commandCount, host: key(t) } satisfies SshHandle;
          }
          last = `ssh ${key(t)}: ${r.err || `exit ${r.code}`}`;
          host.log.warn('could not start a job on a host; trying the next', { job: job.id, host: key(t), err: last });
        }
        throw new Error(last);
      },

      // the exit code lands in the shared job folder: read here every 200 ms, at no ssh cost; the
      // hosts are asked (one ssh each) at most every poll_ms, for the jobs that have not ended
      pollIntervalMs: () => Math.min(200, s.poll_ms),

      async poll(jobs) {
        const out: Observation[] = [];
        const perHost = new Map<string, typeof jobs>();
        for (const j of jobs) {
          const h = j.handle as SshHandle;
          if (exitCode(h) !== null) { out.push(observe(j.jobId, j.attempt, h, 'ended')); continue; }
          perHost.set(h.host, [...(perHost.get(h.host) ?? []), j]);
        }
        const due = [...perHost].filter(([k]) => Date.now() - (asked.get(k) ?? 0) >= s.poll_ms);
        await Promise.all(due.map(async ([k, list]) => {
          asked.set(k, Date.now());
          const t = byKey.get(k);
          if (!t) { for (const j of list) out.push(lost(j.jobId, j.attempt, `host ${k} is no longer in the ssh settings`)); return; }
          try {
            const st = await states(t, list.map((j) => ({ jobId: j.jobId, handle: j.handle as SshHandle })));
            unreachable.delete(k);
            for (const j of list) out.push(observe(j.jobId, j.attempt, j.handle as SshHandle, st.get(j.jobId)));
          } catch (e) {
            // a host that does not answer now: its jobs are left as they are (asked again next poll; `why` says so)
            unreachable.set(k, String((e as Error).message));
            host.log.warn('poll failed', { host: k, err: String(e) });
          }
        }));
        return out;
      },

      async cancel(handle, { graceMs }) {
        const h = handle as SshHandle, t = hostOf(h);
        if (!t) return;
        const d = shellQuote(h.dir);
        const pg = `$(sed -n 's/^__DROVER_PID=//p' ${d}/job.out 2>/dev/null | head -n1)`;
        // TERM to the job's process group now, KILL after the grace from a detached sleeper on the host
        const r = await ssh(t, `p=${pg}; [ -n "$p" ] || exit 0; kill -TERM -- -$p 2>/dev/null; ` +
          `setsid nohup bash -c "sleep ${Math.max(1, Math.ceil(graceMs / 1000))}; kill -KILL -- -$p" </dev/null >/dev/null 2>&1 &`);
        if (r.code !== 0) throw new Error(`ssh ${h.host}: ${r.err || `exit ${r.code}`}`);
      },

      async adopt(jobId, attempt, handle) {
        const h = handle as SshHandle, t = hostOf(h);
        if (!t) return lost(jobId, attempt, `host ${h.host} is no longer in the ssh settings`);
        return observe(jobId, attempt, h, (await states(t, [{ jobId, handle: h }])).get(jobId));
      },

      explain(_jobId, handle) {
        const h = handle as SshHandle | null;
        const why = h ? unreachable.get(h.host) : undefined;
        return why ? [{ code: 'ssh_unreachable', message: `host ${h!.host} does not answer over ssh: ${why}`, host: h!.host }] : [];
      },

      describe() {
        return { hosts: targets.map((t) => ({ host: key(t), slots: t.slots, running: load.get(key(t))!.size, ...(unreachable.has(key(t)) ? { unreachable: unreachable.get(key(t)) } : {}) })) };
      },

      metrics() {
        return ['# HELP drover_ssh_host_up 0 while a host does not answer over ssh', '# TYPE drover_ssh_host_up gauge',
          ...targets.map((t) => `drover_ssh_host_up{host="${key(t)}"} ${unreachable.has(key(t)) ? 0 : 1}`)];
      },
    };
  },
});
