// The sweep results table for people: one line per run — id, status, one column per param and per
// output key, exit code, duration — cut to the terminal's width (each cell, then each line).
// Not here: the rows themselves (GET /groups/:id/results; core/results.ts).
import { duration, status, table } from '../format.ts';
import type { ResultRow } from '../types.ts';

const CELL_MAX = 24;

const text = (v: unknown): string => (v === undefined || v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v));
const cut = (s: string, n: number): string => (s.length > n ? s.slice(0, Math.max(1, n - 1)) + '…' : s);
// eslint-disable-next-line no-control-regex
const visible = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '');

/** The terminal's width: the TTY's, else $COLUMNS, else none (a pipe gets whole lines). */
export function terminalWidth(): number | null {
  if (process.stdout.isTTY && process.stdout.columns) return process.stdout.columns;
  const env = Number(process.env.COLUMNS);
  return Number.isInteger(env) && env > 0 ? env : null;
}

export function resultsTable(rows: ResultRow[], width = terminalWidth()): string {
  const params = [...new Set(rows.flatMap((r) => Object.keys(r.params)))];
  const outputs = [...new Set(rows.flatMap((r) => Object.keys(r.outputs)))];
  const header = ['RUN', 'STATUS', ...params, ...outputs.map((k) => (params.includes(k) ? `output.${k}` : k)), 'EXIT', 'TOOK'];
  const body = rows.map((r) => [
    r.run_id, status(r.status),
    ...params.map((p) => cut(text(r.params[p]), CELL_MAX)),
    ...outputs.map((k) => cut(text(r.outputs[k]), CELL_MAX)),
    r.exit_code === null ? '-' : String(r.exit_code),
    r.took_s === null ? '-' : duration(r.took_s * 1000),
  ]);
  const out = table(header, body);
  if (!width) return out;
  // a cut line loses its colours (the escape codes would count as width)
  return out.split('\n').map((l) => (visible(l).length > width ? cut(visible(l), width) : l)).join('\n');
}
