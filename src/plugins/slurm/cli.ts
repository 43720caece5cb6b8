// Runs the Slurm client commands (sbatch, squeue, sacct, scancel): argv only, never a shell; a
// wall-clock limit per call; a scrubbed environment; every call and failure counted for /metrics.
// The binaries are looked up in `path` (DROVER_SLURM_PATH, default PATH), which is not the PATH the
// jobs get: sbatch passes the server's (scrubbed) environment on to the job as Slurm does by default.
export type SlurmCommand = 'sbatch' | 'squeue' | 'sacct' | 'scancel' | 'scontrol' | 'sinfo';

export interface CallResult {
  ok: boolean; code: number | null; stdout: string; stderr: string;
  /** the binary is not installed (or not in DROVER_SLURM_PATH) */
  missing: boolean;
  /** killed after the time limit: the outcome is unknown (sbatch may have submitted) */
  timedOut: boolean;
}

export interface CallStats { calls: number; failures: number; lastError: string | null; lastErrorAt: string | null }

/** Variables that would change what sbatch does, or that must never reach Slurm's stored job environment. */
const DROP = /^(SBATCH_|SALLOC_|SRUN_|SLURM_|DROVER_)|TOKEN|SECRET|PASSW|CREDENTIAL|API_?KEY|PRIVATE_?KEY/i;

export function scrubbedEnv(base: Record<string, string | undefined> = process.env): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) {
    if (v === undefined) continue;
    if (k === 'SLURM_CONF' || !DROP.test(k)) env[k] = v;
  }
  return env;
}

export interface SlurmCliOptions { path: string; timeoutMs: number; env?: Record<string, string> }

export class SlurmCli {
  readonly stats = new Map<SlurmCommand, CallStats>();
  private env: Record<string, string>;
  constructor(private o: SlurmCliOptions) {
    this.env = o.env ?? scrubbedEnv();
  }

  /** Absolute path of a client command, or null when it is not installed. */
  which(cmd: SlurmCommand): string | null {
    return Bun.which(cmd, { PATH: this.o.path });
  }

  private stat(cmd: SlurmCommand): CallStats {
    let s = this.stats.get(cmd);
    if (!s) { s = { calls: 0, failures: 0, lastError: null, lastErrorAt: null }; this.stats.set(cmd, s); }
    return s;
  }

  async run(cmd: SlurmCommand, args: string[], opts: { timeoutMs?: number; countFailure?: (r: CallResult) => boolean } = {}): Promise<CallResult> {
    const st = this.stat(cmd);
    st.calls++;
    const bin = this.which(cmd);
    let r: CallResult;
    if (!bin) {
      r = { ok: false, code: null, stdout: '', stderr: `${cmd}: not found in ${this.o.path}`, missing: true, timedOut: false };
    } else {
      r = await this.spawn(bin, args, opts.timeoutMs ?? this.o.timeoutMs);
    }
    if (!r.ok && (opts.countFailure?.(r) ?? true)) {
      st.failures++;
      st.lastError = firstLine(r.stderr) || `exit ${r.code}`;
      st.lastErrorAt = new Date().toISOString();
    }
    return r;
  }

  private async spawn(bin: string, args: string[], timeoutMs: number): Promise<CallResult> {
    let proc;
    try {
      proc = Bun.spawn([bin, ...args], { stdin: 'ignore', stdout: 'pipe', stderr: 'pipe', env: this.env, cwd: '/' });
    } catch (err) {
      return { ok: false, code: null, stdout: '', stderr: String(err), missing: false, timedOut: false };
    }
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; proc.kill('SIGKILL'); }, timeoutMs);
    const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    clearTimeout(timer);
    const err = timedOut ? `${stderr}\n(killed after ${timeoutMs} ms)`.trim() : stderr;
    return { ok: code === 0 && !timedOut, code: timedOut ? null : code, stdout, stderr: err, missing: false, timedOut };
  }
}

export function firstLine(s: string): string {
  return s.split('\n').map((l) => l.trim()).find((l) => l !== '') ?? '';
}
