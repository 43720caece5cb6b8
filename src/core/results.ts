// Sweep results: one row per run of a group — params, outputs, status, exit code, times — so which
// point of a sweep gave what is one table (GET /groups/:id/results, `drover results`, `status GROUP`).
// Rows come in the sweep's order unless sorted; numbers sort as numbers. Also the CSV rendering.
// Not here: the HTTP route (server/routes/groups.ts) and the terminal table (cli/output/results.ts).
import { DroverError } from './errors.ts';
import type { Store } from './ports.ts';
import type { JobRow, RunRow } from './types.ts';

export interface ResultRow {
  run_id: string; status: string; params: Record<string, unknown>; outputs: Record<string, string>;
  exit_code: number | null; started_at: string | null; ended_at: string | null; took_s: number | null;
}

const FIXED = ['run_id', 'status', 'exit_code', 'started_at', 'ended_at', 'took_s'] as const;

/** A run's outputs: every job's outputs in stage and job order (a later job's key wins, as in a stage). */
function runOutputs(jobs: JobRow[]): Record<string, string> {
  return Object.assign({}, ...jobs.map((j) => (j.outputs ? JSON.parse(j.outputs) : {})));
}

/** The run's exit code: the first non-zero exit code of its jobs, else 0 once a job has one, else null. */
function runExitCode(jobs: JobRow[]): number | null {
  const codes = jobs.map((j) => j.exit_code).filter((c): c is number => c !== null);
  return codes.find((c) => c !== 0) ?? (codes.length ? 0 : null);
}

function row(run: RunRow, jobs: JobRow[]): ResultRow {
  const took = run.started_at && run.ended_at ? (Date.parse(run.ended_at) - Date.parse(run.started_at)) / 1000 : null;
  return {
    run_id: run.id, status: run.status, params: JSON.parse(run.params), outputs: runOutputs(jobs), exit_code: runExitCode(jobs),
    started_at: run.started_at, ended_at: run.ended_at, took_s: took === null ? null : Math.round(took * 1000) / 1000,
  };
}

/** The rows of a group, in sweep order, or sorted by `sort` (a column, param or output key; `-KEY` descending). */
export function groupResults(store: Pick<Store, 'runsOfGroup' | 'jobsOfGroup'>, groupId: string, sort?: string): ResultRow[] {
  const byRun = new Map<string, JobRow[]>();
  for (const j of store.jobsOfGroup(groupId)) {
    const list = byRun.get(j.run_id);
    if (list) list.push(j); else byRun.set(j.run_id, [j]);
  }
  const rows = store.runsOfGroup(groupId).map((r) => row(r, byRun.get(r.id) ?? []));
  return sort ? sortRows(rows, sort) : rows;
}

/** The value of a column for sorting and for tables: a fixed column, else a param, else an output. */
export function cell(r: ResultRow, key: string): unknown {
  if ((FIXED as readonly string[]).includes(key)) return r[key as (typeof FIXED)[number]];
  if (key.startsWith('output.')) return r.outputs[key.slice(7)];
  if (Object.hasOwn(r.params, key)) return r.params[key];
  return r.outputs[key];
}

const asNumber = (v: unknown): number | null => {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  return null;
};

/** Numbers (and numeric text such as outputs) as numbers, before text; missing values last. */
export function compareValues(a: unknown, b: unknown): number {
  if (a === undefined || a === null) return b === undefined || b === null ? 0 : 1;
  if (b === undefined || b === null) return -1;
  const x = asNumber(a), y = asNumber(b);
  if (x !== null && y !== null) return x - y;
  if (x !== null) return -1;
  if (y !== null) return 1;
  return String(a).localeCompare(String(b));
}

export function sortRows(rows: ResultRow[], sort: string): ResultRow[] {
  const desc = sort.startsWith('-');
  const key = desc ? sort.slice(1) : sort;
  const known = rows.length === 0 || (FIXED as readonly string[]).includes(key) || rows.some((r) => cell(r, key) !== undefined);
  if (!key || !known) {
    throw new DroverError('invalid_request', `sort: no column, param or output named '${key}'`, { path: 'sort', sort });
  }
  // stable: equal values keep the sweep's order, whichever direction
  return rows.map((r, i) => ({ r, i }))
    .sort((p, q) => {
      const c = compareValues(cell(p.r, key), cell(q.r, key));
      return (desc ? -c : c) || p.i - q.i;
    })
    .map((x) => x.r);
}

/** Param columns, then output columns (named `output.KEY` where a key is also a param or a fixed column). */
export function resultColumns(rows: ResultRow[]): { params: string[]; outputs: { key: string; column: string }[] } {
  const params = [...new Set(rows.flatMap((r) => Object.keys(r.params)))];
  const taken = new Set<string>([...FIXED, ...params]);
  const outputs = [...new Set(rows.flatMap((r) => Object.keys(r.outputs)))]
    .map((key) => ({ key, column: taken.has(key) ? `output.${key}` : key }));
  return { params, outputs };
}

const text = (v: unknown): string => (v === undefined || v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v));
const csvField = (s: string): string => (/[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

/** RFC 4180 CSV: fixed columns, one per param, one per output key; CRLF line ends. */
export function resultsCsv(rows: ResultRow[]): string {
  const { params, outputs } = resultColumns(rows);
  const header = ['run_id', 'status', ...params, ...outputs.map((o) => o.column), 'exit_code', 'started_at', 'ended_at', 'took_s'];
  const lines = [header.map(csvField).join(',')];
  for (const r of rows) {
    const cells = [r.run_id, r.status, ...params.map((p) => r.params[p]), ...outputs.map((o) => r.outputs[o.key]), r.exit_code, r.started_at, r.ended_at, r.took_s];
    lines.push(cells.map((c) => csvField(text(c))).join(','));
  }
  return lines.join('\r\n') + '\r\n';
}
