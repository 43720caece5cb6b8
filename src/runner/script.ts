// Generates job.sh, the one runner script every executor uses. For each command it appends the
// command's output to logs/<n>.log (0600), writes meta/<n>.json {exit_code, started_at, ended_at},
// honors allow_failure, and ends by printing `__DROVER_TIMES` (bash's `times`: CPU use) and
// `__DROVER_RC=<n>` into job.out (its own stdout and stderr, redirected by the script itself so the
// server opens no file for it).
// Every value that reaches the script goes through shellQuote; commands run via `eval` of one
// quoted word inside a subshell, so a syntax error in one command cannot break the runner.
// A job with secrets (`secrets: true`) never has their values here: first thing, the script sources
// the 0600 file .secrets that drover wrote beside it and deletes it, and its commands' output goes
// to raw/<n>.log instead, which the server's redacting copier turns into logs/<n>.log.
// The workspace is checked where the job runs, not only by the server beforehand: the script enters it
// with `cd -P` (every symlink resolved at that moment) and refuses to run a command when the physical
// directory it landed in is outside the workspace root (a symlink flipped after the server's check):
// it prints `__DROVER_REFUSED=workspace_escape <message>` and exits 126 (runner/meta.ts reads it back).
import { shellQuote } from './quote.ts';

export interface ScriptInput {
  /** dir/workdir null: a portable script for a remote agent, which sets DROVER_JOB_DIR (and may set
   *  DROVER_WORKDIR) in the environment it runs the script with */
  jobId: string; attempt: number; dir: string | null; workdir: string | null;
  /** the canonical workspace root the workdir must lie under once entered (null: no workspace, the
   *  job folder is the workdir); a portable script takes it from $DROVER_WORKSPACE_ROOT when set */
  root?: string | null;
  /** a line written at the top of the first command's log (e.g. the device the job got) */
  preamble?: string;
  /** the umask commands run with (the runner's own files are 0600 regardless) */
  umask?: number;
  env: Record<string, string>;
  commands: { run: string; allow_failure: boolean }[];
  /** the job has secrets: source and delete $__D/.secrets first, write raw/ instead of logs/ */
  secrets?: boolean;
  /** the executor's cancel signals the whole process group (Executor.signalsProcessGroup): the last
   *  command may then run in the runner's own shell (inlineable() says which commands may) */
  inlineLast?: boolean;
}

const NO_SECRETS_FILE = 'echo "drover: the secrets file of this job is missing or unreadable (it is read once; a job restarted outside drover cannot read it again)" >&2; exit 126';

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** CPU use: bash's `times` builtin (no extra process) prints the runner's and its children's user/sys
 *  times into job.out just before the exit marker; runner/meta.ts reads it back (readCpuTimes). */
const TIMES = "printf '__DROVER_TIMES '; times";

/** After `cd -P`, $PWD is the physical directory: it must be the root or under it. */
function rootCheck(s: ScriptInput, logs: string): string[] {
  const root = s.dir === null ? '"${DROVER_WORKSPACE_ROOT:-}"' : s.root ? shellQuote(s.root) : null;
  if (root === null) return [];
  const msg = '"the workspace resolved to $PWD when the job started, outside the workspace root $__R (a symbolic link changed after the check?)"';
  return [
    `__R=${root}`,
    s.dir === null ? '[ -z "$__R" ] || __R=$(cd -P -- "$__R" 2>/dev/null && pwd -P) || __R=/nonexistent' : ':',
    `if [ -n "$__R" ]; then case "$PWD/" in "\${__R%/}/"*) ;; *) echo "drover: "${msg} >>"$__D/${logs}/0.log"; echo "__DROVER_REFUSED=workspace_escape "${msg}; echo "__DROVER_RC=126"; exit 126;; esac; fi`,
  ];
}

export function renderScript(s: ScriptInput): string {
  const logs = s.secrets ? 'raw' : 'logs';
  const lines = [
    '#!/bin/bash',
    `# drover job runner (generated) — job ${s.jobId} attempt ${s.attempt}`,
    'umask 077',
    s.dir === null ? '__D="$DROVER_JOB_DIR"' : `__D=${shellQuote(s.dir)}`,
    ...(s.secrets ? ['__S=0; if [ -r "$__D/.secrets" ]; then . "$__D/.secrets" && __S=1; fi; rm -f "$__D/.secrets"'] : []),
    'exec >>"$__D/job.out" 2>&1 </dev/null',
    'echo "__DROVER_PID=$$"',
    `cd -P -- ${s.workdir === null ? '"${DROVER_WORKDIR:-$__D}"' : shellQuote(s.workdir)} || { echo "drover: cannot enter workdir" >>"$__D/${logs}/0.log"; echo "__DROVER_RC=127"; exit 127; }`,
    ...rootCheck(s, logs),
  ];
  if (s.dir === null) lines.push('export DROVER_JOB_DIR="$__D" DROVER_WORKDIR="$PWD" DROVER_OUTPUT="$__D/outputs.env" DROVER_NEEDS="$__D/needs.json"');
  for (const [k, v] of Object.entries(s.env)) {
    if (!ENV_NAME.test(k)) throw new Error(`invalid environment variable name: ${JSON.stringify(k)}`);
    // a batch system that reruns the script by itself (Slurm requeue) says how often: each rerun is the next attempt
    if (k === 'DROVER_ATTEMPT' && /^\d+$/.test(v)) lines.push(`export DROVER_ATTEMPT=$((${v} + \${__DROVER_RESTARTS:-0}))`);
    else lines.push(`export ${k}=${shellQuote(v)}`);
  }
  // TERM (cancel, timeout, a batch system ending the job) does not kill the runner at once: it lets the
  // running command end (the command gets TERM too, and KILL after the grace), records it, and stops. A
  // runner that died first would orphan the command, and a batch system that tracks processes by parent
  // (Slurm's proctrack/linuxproc) could then never KILL a command that ignores TERM.
  lines.push(
    "__T=; trap '__T=143' TERM",
    `__drover_stop() { ${TIMES}; echo "__DROVER_RC=$1"; exit "$1"; }`,
    '__drover_cmd() {',
    '  [ -z "$__T" ] || __drover_stop 143',
    '  local s=${EPOCHREALTIME/,/.}',
    // in the background and waited for, so a TERM to the runner runs its trap at once, and the trap's
    // TERM reaches the command even where the batch system signalled only the runner
    `  ( umask ${(s.umask ?? 0o022).toString(8).padStart(4, '0')}; eval "$2" ) >>"$__D/${logs}/$1.log" 2>&1 </dev/null &`,
    '  local p=$! c',
    '  wait "$p"; c=$?',
    '  while [ -n "$__T" ] && kill -0 "$p" 2>/dev/null; do kill -TERM "$p" 2>/dev/null; wait "$p"; c=$?; done',
    '  printf \'{"exit_code":%d,"started_at":%s,"ended_at":%s}\\n\' "$c" "$s" "${EPOCHREALTIME/,/.}" >"$__D/meta/$1.json"',
    '  [ -z "$__T" ] || __drover_stop $((c ? c : 143))',
    '  return $c',
    '}',
  );
  const last = s.commands.length - 1;
  const inline = !!s.inlineLast && !s.secrets && last >= 0 && inlineable(s.commands[last]!);
  if (inline) lines.push(...inlineLast(s.umask, logs));
  if (s.secrets) lines.push(`[ "$__S" = 1 ] || { __drover_cmd 0 ${shellQuote(NO_SECRETS_FILE)}; __rc=$?; ${TIMES}; echo "__DROVER_RC=$__rc"; exit $__rc; }`);
  if (s.preamble) lines.push(`printf '%s\\n' ${shellQuote(s.preamble)} >>"$__D/${logs}/0.log"`);
  s.commands.forEach((c, i) => {
    if (inline && i === last) { lines.push(`__drover_last ${i} ${shellQuote(c.run)}`, 'exit $?', ''); return; }
    const call = `__drover_cmd ${i} ${shellQuote(c.run)}`;
    // (never `call || …`: bash ignores `set -e` inside anything run on the left of || or &&, so a
    // command's own `set -e` would not stop it)
    lines.push(c.allow_failure ? call : `${call}; __rc=$?; [ "$__rc" = 0 ] || { ${TIMES}; echo "__DROVER_RC=$__rc"; exit $__rc; }`);
  });
  if (!inline) lines.push(TIMES, 'echo "__DROVER_RC=0"', 'exit 0', '');
  return lines.join('\n');
}

/** Words that would let a command inlined into the runner's shell escape what the runner does after it
 *  (replace the process, take its traps, trace its bookkeeping into the log): such a command runs in a
 *  child as the others do. */
const NOT_INLINE = /\b(exec|trap|xtrace|verbose)\b|\bset\s+[-+][a-z]*[xv]/;

export function inlineable(c: { run: string; allow_failure: boolean }): boolean {
  return !c.allow_failure && !NOT_INLINE.test(c.run);
}

/**
 * The last command in the runner's own shell: no fork for it. Its end (however it ends: falling off
 * the end, `exit N`, `set -e`, a TERM) runs the EXIT trap, which writes its meta, the CPU times and the
 * exit marker, exactly as __drover_cmd and the end of the script do for a command run in a child. A TERM
 * (the executor signals the whole process group, so a child the command waits for gets it too) exits
 * with 143 at the next command boundary instead of being merely noted.
 */
function inlineLast(umask: number | undefined, logs: string): string[] {
  return [
    '__drover_end() {',
    '  local c=$1',
    '  printf \'{"exit_code":%d,"started_at":%s,"ended_at":%s}\\n\' "$c" "$__S" "${EPOCHREALTIME/,/.}" >"$__D/meta/$__I.json"',
    '  exec >>"$__D/job.out" 2>&1',
    `  ${TIMES}; echo "__DROVER_RC=$c"`,
    '}',
    '__drover_last() {',
    '  [ -z "$__T" ] || __drover_stop 143',
    '  __I=$1; __S=${EPOCHREALTIME/,/.}',
    "  trap '__drover_end $?' EXIT",
    "  trap '__T=143; exit 143' TERM",
    `  exec >>"$__D/${logs}/$1.log" 2>&1`,
    `  umask ${(umask ?? 0o022).toString(8).padStart(4, '0')}`,
    '  eval "$2"',
    '}',
  ];
}
