// What goes to sbatch: options from a job's resources, the allow-list for `resources.sbatch`, and the
// small batch wrapper Slurm stores and runs. The wrapper holds only drover-made paths and numbers
// (every one through shellQuote); it execs the job's own job.sh by path, so commands, params and env
// values never reach sbatch's arguments, its environment or the script Slurm keeps. Options are argv
// items, never `#SBATCH` lines, and the wrapper's first command ends sbatch's directive scan.
import type { Resources } from '../../core/spec/types.ts';
import { shellQuote } from '../../runner/quote.ts';

/** Extra options a spec may ask for (long names). Anything that would redirect output, change what runs,
 *  rename or re-shape the submission, or carry environment is refused. */
export const SBATCH_ALLOWED = new Set([
  'acctg-freq', 'begin', 'comment', 'constraint', 'contiguous', 'core-spec', 'cores-per-socket', 'cpu-freq', 'cpus-per-gpu',
  'deadline', 'delay-boot', 'distribution', 'exclude', 'exclusive', 'extra-node-info', 'gpu-bind', 'gpu-freq', 'gpus',
  'gpus-per-node', 'gpus-per-socket', 'gpus-per-task', 'gres', 'gres-flags', 'hint', 'licenses', 'mail-type', 'mail-user',
  'mcs-label', 'mem-bind', 'mem-per-cpu', 'mem-per-gpu', 'mincpus', 'network', 'nice', 'no-requeue', 'nodelist', 'nodes',
  'ntasks', 'ntasks-per-core', 'ntasks-per-gpu', 'ntasks-per-node', 'ntasks-per-socket', 'oversubscribe', 'power', 'prefer',
  'profile', 'propagate', 'requeue', 'reservation', 'signal', 'sockets-per-node', 'spread-job', 'switches', 'thread-spec',
  'threads-per-core', 'time-min', 'tmp', 'use-min-nodes', 'wckey',
]);

const USE_FIELD: Record<string, string> = {
  'cpus-per-task': 'cpus', mem: 'mem', time: 'time', partition: 'partition', account: 'account', qos: 'qos',
};

/** null when every extra option is allowed, else why not (for the job's failure message). */
export function checkExtraOptions(opts: readonly string[] | undefined, extraAllowed: ReadonlySet<string> = new Set()): string | null {
  for (const opt of opts ?? []) {
    const m = /^--([a-z][a-z0-9-]*)(=.*)?$/s.exec(opt);
    if (!m) return `resources.sbatch: '${opt}' is not a long option (write --name or --name=value)`;
    const name = m[1]!;
    if (USE_FIELD[name]) return `resources.sbatch: --${name} is not allowed here; use resources.${USE_FIELD[name]}`;
    if (!SBATCH_ALLOWED.has(name) && !extraAllowed.has(name)) {
      return `resources.sbatch: --${name} is not on the allow-list of sbatch options (drover sets output, names, arrays and environment itself)`;
    }
    if (/[\n\r]/.test(m[2] ?? '')) return `resources.sbatch: --${name} has a line break in its value`;
  }
  return null;
}

/** Slurm's [D-]HH:MM:SS, rounded up to whole seconds (Slurm itself rounds limits up to minutes). */
export function slurmTime(ms: number): string {
  const s = Math.max(1, Math.ceil(ms / 1000));
  const pad = (n: number) => String(n).padStart(2, '0');
  const d = Math.floor(s / 86_400), h = Math.floor((s % 86_400) / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const hms = `${pad(h)}:${pad(m)}:${pad(sec)}`;
  return d ? `${d}-${hms}` : hms;
}

/** The per-job part of the sbatch command line: extras first, so the mapped fields win where both set one. */
export function resourceArgs(r: Resources): string[] {
  const a: string[] = [...(r.sbatch ?? [])];
  if (r.cpus !== undefined) a.push(`--cpus-per-task=${Math.max(1, Math.ceil(r.cpus))}`);
  if (r.mem_mb !== undefined) a.push(`--mem=${r.mem_mb}M`);
  if (r.time_ms !== undefined) a.push(`--time=${slurmTime(r.time_ms)}`);
  if (r.gpus) a.push(`--gres=gpu:${r.gpus}`);
  if (r.partition) a.push(`--partition=${r.partition}`);
  if (r.account) a.push(`--account=${r.account}`);
  if (r.qos) a.push(`--qos=${r.qos}`);
  return a;
}

/** A path as a Slurm filename pattern: `%` is Slurm's escape character there. */
export const slurmPathPattern = (p: string): string => p.replace(/%/g, '%%');

/** On a requeue (same Slurm job id, SLURM_RESTART_COUNT > 0) move the previous run's files aside, as a
 *  drover retry does, so the new run starts clean and its result is never read from the old meta files. */
const RESTART_BLOCK = [
  'if [ "${SLURM_RESTART_COUNT:-0}" -gt 0 ] && [ -e "$__D/job.out" ]; then',
  '  __P="$__D/attempt-$((__A + SLURM_RESTART_COUNT - 1))"',
  '  mkdir -p "$__P" && for __f in job.out logs meta outputs.env; do',
  '    if [ -e "$__D/$__f" ]; then rm -rf "${__P:?}/$__f"; mv -f "$__D/$__f" "$__P/$__f"; fi',
  '  done',
  '  mkdir -p "$__D/logs" "$__D/meta"',
  'fi',
];

/** job.sh numbers a rerun's DROVER_ATTEMPT from this (the drover attempt the submission was made for + restarts). */
const RESTARTS = 'export __DROVER_RESTARTS="${SLURM_RESTART_COUNT:-0}"';

const HEAD = ['#!/bin/bash', '# drover: Slurm batch wrapper (generated); it runs the job runner script job.sh of its job', ':', 'umask 077'];

export function singleWrapper(dir: string, attempt: number): string {
  return [...HEAD, `__D=${shellQuote(dir)}`, `__A=${Math.trunc(attempt)}`, ...RESTART_BLOCK, RESTARTS, 'exec /bin/bash "$__D/job.sh"', ''].join('\n');
}

export function arrayWrapper(jobs: readonly { dir: string; attempt: number }[]): string {
  return [
    ...HEAD,
    `__DIRS=(${jobs.map((j) => shellQuote(j.dir)).join(' ')})`,
    `__ATTS=(${jobs.map((j) => Math.trunc(j.attempt)).join(' ')})`,
    '__i=${SLURM_ARRAY_TASK_ID:?drover: not an array task}',
    '__D=${__DIRS[$__i]}',
    '__A=${__ATTS[$__i]}',
    'exec >>"$__D/slurm.out" 2>&1',
    ...RESTART_BLOCK,
    RESTARTS,
    'exec /bin/bash "$__D/job.sh"',
    '',
  ].join('\n');
}

/** `sbatch --parsable` prints `<id>` or `<id>;<cluster>`. */
export function parseJobId(stdout: string): string | null {
  const m = /^\s*(\d+)(?:;\S+)?\s*$/.exec(stdout.trim().split('\n').pop() ?? '');
  return m ? m[1]! : null;
}

/** sbatch failures that say nothing about the job itself: the controller is busy or away, or a limit
 *  on submitted jobs is reached. Retried with backoff; everything else fails the jobs (spawn_failed). */
export const TRANSIENT_SUBMIT = /Unable to contact slurm controller|Socket timed out|Connection (refused|timed out|reset)|Resource temporarily unavailable|temporarily unable|Zero Bytes were transmitted|Transport endpoint|Communication connection failure|Slurm backup controller in standby|try again|Job violates accounting\/QOS policy \(job submit limit|QOSMaxSubmitJob|AssocMaxSubmitJob|MaxSubmitJobs|killed after/i;
