// Small helpers for the reliability gauntlets (tests/e2e/gauntlets.test.ts).
// Concurrency is judged from the jobs' OWN recorded times: each job appends
// `start <id> <ns>` / `end <id> <ns>` lines to a stamps file in the workspace.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { TestServer } from '../helpers/server.ts';

export const TERMINAL = ['succeeded', 'failed', 'canceled', 'skipped'];

/** Shell snippet: run `body` between a start and an end stamp appended to `file`. */
export function stamped(file: string, body: string, id = '$DROVER_RUN_ID'): string {
  const q = `'${file.replace(/'/g, `'\\''`)}'`;
  return `echo "start ${id} $(date +%s%N)" >> ${q}; ${body}; echo "end ${id} $(date +%s%N)" >> ${q}`;
}

export interface Interval { id: string; start: bigint; end?: bigint }

/** Parse a stamps file into one interval per id (throws on a duplicate start/end). */
export function readStamps(file: string): Map<string, Interval> {
  const out = new Map<string, Interval>();
  if (!existsSync(file)) return out;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const [kind, id, ns] = line.trim().split(/\s+/);
    if (!id || !ns || !/^\d+$/.test(ns)) throw new Error(`bad stamp line: ${line}`);
    if (kind === 'start') {
      if (out.has(id)) throw new Error(`job of ${id} started twice`);
      out.set(id, { id, start: BigInt(ns) });
    } else if (kind === 'end') {
      const iv = out.get(id);
      if (!iv) throw new Error(`end without start for ${id}`);
      if (iv.end !== undefined) throw new Error(`job of ${id} ended twice`);
      iv.end = BigInt(ns);
    } else throw new Error(`bad stamp line: ${line}`);
  }
  return out;
}

/** Largest number of intervals open at the same instant (touching ends/starts do not overlap). */
export function maxOverlap(intervals: Iterable<Interval>): number {
  const events: [bigint, number][] = [];
  for (const iv of intervals) {
    events.push([iv.start, +1]);
    events.push([iv.end ?? BigInt(Number.MAX_SAFE_INTEGER) * 1_000_000n, -1]);
  }
  // at equal times, ends (-1) before starts (+1)
  events.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] - b[1]));
  let cur = 0, max = 0;
  for (const [, d] of events) { cur += d; max = Math.max(max, cur); }
  return max;
}

/** GET /runs/:id (throws unless 200). */
export async function getRun(s: TestServer, id: string): Promise<any> {
  const r = await s.api('GET', `/runs/${id}`);
  if (r.status !== 200) throw new Error(`GET /runs/${id}: ${r.status} ${r.text}`);
  return r.body;
}

/** All jobs of a run (flattened over its stages). */
export function jobsOf(run: any): any[] {
  return (run.stages ?? []).flatMap((st: any) => st.jobs ?? []);
}

/** The only job of a one-stage, one-job run. */
export function onlyJob(run: any): any {
  const jobs = jobsOf(run);
  if (jobs.length !== 1) throw new Error(`run ${run.id} has ${jobs.length} jobs, expected 1`);
  return jobs[0];
}

/** Fetch every run (full view) of a list of ids. */
export async function getRuns(s: TestServer, ids: string[]): Promise<any[]> {
  return Promise.all(ids.map((id) => getRun(s, id)));
}

/** `<dataDir>/runs/<run-id>/result.json`, parsed, or null when absent. */
export function readResult(dataDir: string, runId: string): any | null {
  const p = join(dataDir, 'runs', runId, 'result.json');
  return existsSync(p) ? JSON.parse(readFileSync(p, 'utf8')) : null;
}

/** Pids of processes whose full command line contains `pattern` (pgrep -f, fixed string). */
export function pgrep(pattern: string): number[] {
  const escaped = pattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const p = Bun.spawnSync(['pgrep', '-f', escaped]);
  return p.stdout.toString().split('\n').filter(Boolean).map(Number).filter((n) => n !== process.pid);
}

/** Kill, by pid, processes a test started that are still alive (clean-up after a failure). */
export function killPids(pids: number[]): void {
  for (const pid of pids) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
}

export function removeDir(dir: string | undefined): void {
  if (dir) { try { rmSync(dir, { recursive: true, force: true }); } catch { /* best effort */ } }
}

/** A unique number for a marker argument, e.g. `sleep 30.<n>`. */
export function uniqueDigits(): string {
  return String(100000 + Math.floor(Math.random() * 899999));
}
