// Reads what job.sh left behind: per-command meta files, log sizes, outputs.env and the
// `__DROVER_RC=` / `__DROVER_PID=` / `__DROVER_TIMES` marker lines in job.out. Missing files mean "did not run".
// Every file is opened through safe-open.ts: one the job replaced with a link (or anything but a
// regular file of its own) is ignored, listed in the result's `unsafe`, and a log so replaced becomes
// a regular file holding only a warning line — the job then fails with reason unsafe_file.
import { unlinkSync, lstatSync, mkdirSync, writeFileSync, closeSync } from 'node:fs';
import { join, dirname } from 'node:path';
import type { JobResult, CommandResult } from '../core/ports.ts';
import { readInJobOr, sizeInJob, openInJob, UnsafeFile } from './safe-open.ts';

const epochToIso = (v: unknown): string | null => (typeof v === 'number' && Number.isFinite(v) ? new Date(Math.round(v * 1000)).toISOString() : null);

/** Size of a regular file (a link or anything else counts as empty: it is never served). */
export function fileSize(path: string): number {
  return sizeInJob(path, '');
}

export function readMarkers(dir: string, unsafe: string[] = []): { rc: number | null; pid: number | null; refused?: { reason: string; message: string } } {
  const out = readInJobOr(dir, 'job.out', unsafe) ?? '';
  const rc = /__DROVER_RC=(\d+)/.exec(out);
  const pid = /__DROVER_PID=(\d+)/.exec(out);
  const refused = /^__DROVER_REFUSED=(workspace_escape) (.*)$/m.exec(out);
  return { rc: rc ? Number(rc[1]) : null, pid: pid ? Number(pid[1]) : null, ...(refused ? { refused: { reason: refused[1]!, message: refused[2]! } } : {}) };
}

/** CPU seconds of the job, from the `__DROVER_TIMES <self user> <self sys>\n<children user> <children sys>`
 *  lines job.sh prints with bash's `times` before it exits; null when absent (killed, older runner, remote agent). */
export interface CpuTimes { user: number; sys: number; children_user: number; children_sys: number }

/** The `__DROVER_TIMES` line as the runner prints it (bash `times`), for CPU times measured elsewhere (agents). */
export function formatCpuTimes(t: CpuTimes): string {
  const f = (s: number) => `${Math.floor(s / 60)}m${(s % 60).toFixed(3)}s`;
  return `__DROVER_TIMES ${f(t.user)} ${f(t.sys)}\n${f(t.children_user)} ${f(t.children_sys)}\n`;
}

export function readCpuTimes(dir: string): CpuTimes | null {
  const out = readInJobOr(dir, 'job.out', []);
  const t = '(\\d+)m(\\d+(?:[.,]\\d+)?)s';
  const m = out ? new RegExp(`__DROVER_TIMES ${t} ${t}\\s+${t} ${t}`).exec(out) : null;
  if (!m) return null;
  const sec = (i: number) => Number(m[i]) * 60 + Number(m[i + 1]!.replace(',', '.'));
  return { user: sec(1), sys: sec(3), children_user: sec(5), children_sys: sec(7) };
}

export function readCommandResult(dir: string, i: number, unsafe: string[] = []): CommandResult {
  const log_size = checkedLogSize(dir, i, unsafe);
  return { ...readCommandMeta(dir, i, unsafe), log_size };
}

/** A command's meta file only (exit code and times; all null until it ended): also read while the job
 *  runs, so the API shows each finished command's exit code before the job ends. No side effects. */
export function readCommandMeta(dir: string, i: number, unsafe: string[] = []): Omit<CommandResult, 'log_size'> {
  const text = readInJobOr(dir, `meta/${i}.json`, unsafe);
  if (!text) return { exit_code: null, started_at: null, ended_at: null };
  try {
    const m = JSON.parse(text) as { exit_code?: number; started_at?: number; ended_at?: number };
    return { exit_code: typeof m.exit_code === 'number' ? m.exit_code : null, started_at: epochToIso(m.started_at), ended_at: epochToIso(m.ended_at) };
  } catch {
    return { exit_code: null, started_at: null, ended_at: null };
  }
}

/** key=value lines; later lines win. Lines without '=' are ignored. */
export function parseOutputs(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const key = line.slice(0, eq).trim();
    if (/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(key)) out[key] = line.slice(eq + 1).replace(/\r$/, '');
  }
  return out;
}

export function readJobResult(dir: string, commandCount: number): JobResult {
  const unsafe: string[] = [];
  const commands: CommandResult[] = [];
  for (let i = 0; i < commandCount; i++) commands.push(readCommandResult(dir, i, unsafe));
  const outputsText = readInJobOr(dir, 'outputs.env', unsafe);
  const markers = readMarkers(dir, unsafe);
  const r: JobResult = { rc: markers.rc, commands, outputs: outputsText ? parseOutputs(outputsText) : {} };
  if (markers.refused) r.refused = markers.refused;
  if (unsafe.length) r.unsafe = unsafe;
  return r;
}

/** The size of logs/<i>.log; one that is not the runner's regular file is replaced by a warning line. */
function checkedLogSize(dir: string, i: number, unsafe: string[]): number {
  const rel = `logs/${i}.log`;
  try {
    const fd = openInJob(dir, rel);
    if (fd !== null) closeQuietly(fd);
    return sizeInJob(dir, rel);
  } catch (err) {
    if (!(err instanceof UnsafeFile)) return 0;
    unsafe.push(err.message);
    return replaceWithWarning(dir, rel, err);
  }
}

/** Removes the link (never what it points to) and leaves a regular file that says why. */
export function replaceWithWarning(dir: string, rel: string, bad: UnsafeFile): number {
  const text = `[drover: ${bad.message}]\n`;
  try {
    if (lstatSync(join(dir, bad.rel)).isDirectory()) return 0; // a folder where a file belongs: serve nothing
    unlinkSync(join(dir, bad.rel)); // the link itself; unlink never follows it
    if (bad.rel !== rel) mkdirSync(join(dir, dirname(rel)), { recursive: true, mode: 0o700 });
    writeFileSync(join(dir, rel), text, { mode: 0o600, flag: 'wx' }); // O_EXCL: never through a link
    return Buffer.byteLength(text);
  } catch { return 0; }
}

function closeQuietly(fd: number): void { try { closeSync(fd); } catch { /* closed */ } }
