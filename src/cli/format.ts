// Small text helpers for human output: aligned tables, durations, ages, local times and
// coloured statuses (only on a TTY, never with NO_COLOR). No I/O here.

const useColor = () => !!process.stdout.isTTY && !process.env.NO_COLOR && process.env.TERM !== 'dumb';
const paint = (code: string, s: string) => (useColor() ? `\x1b[${code}m${s}\x1b[0m` : s);
export const dim = (s: string) => paint('2', s);
export const bold = (s: string) => paint('1', s);

const STATUS_COLOR: Record<string, string> = {
  succeeded: '32', failed: '31', canceled: '33', running: '36', paused: '35', queued: '2', pending: '2', skipped: '2',
};
export const status = (s: string | undefined) => paint(STATUS_COLOR[s ?? ''] ?? '0', s ?? '?');

// eslint-disable-next-line no-control-regex
const visibleLength = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '').length;

/** Left-aligned columns separated by two spaces; the last column is not padded. */
export function table(header: string[], rows: string[][]): string {
  const all = [header.map((h) => dim(h)), ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => visibleLength(r[i] ?? ''))));
  return all
    .map((r) => r.map((c, i) => (i === r.length - 1 ? c : c + ' '.repeat(widths[i]! - visibleLength(c)))).join('  ').trimEnd())
    .join('\n') + '\n';
}

export function duration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '-';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d${h % 24}h`;
}

const parse = (iso: string | null | undefined) => (iso ? Date.parse(iso) : NaN);

/** started → ended (or now while it runs); '-' before it started. */
export function elapsed(t: { started_at?: string | null; ended_at?: string | null }, now = Date.now()): string {
  const start = parse(t.started_at);
  if (Number.isNaN(start)) return '-';
  const end = parse(t.ended_at);
  return duration((Number.isNaN(end) ? now : end) - start);
}

export function age(iso: string | null | undefined, now = Date.now()): string {
  const t = parse(iso);
  if (Number.isNaN(t)) return '-';
  const d = now - t;
  return d < 1000 ? 'just now' : `${duration(d).replace(/^(\d+[a-z]+).*/, '$1')} ago`;
}

/** Local wall time `YYYY-MM-DD HH:MM:SS`. */
export function time(iso: string | null | undefined): string {
  const t = parse(iso);
  if (Number.isNaN(t)) return '-';
  const d = new Date(t);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export const kv = (o: Record<string, unknown> | null | undefined) =>
  Object.entries(o ?? {}).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ');

/** A generic indented rendering for objects whose shape the CLI does not know (gc reports…). */
export function outline(value: unknown, indent = ''): string {
  if (value === null || typeof value !== 'object') return `${indent}${String(value)}\n`;
  const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value);
  let s = '';
  for (const [k, v] of entries) {
    if (v !== null && typeof v === 'object') {
      const n = Array.isArray(v) ? v.length : Object.keys(v).length;
      if (n === 0) s += `${indent}${k}: ${Array.isArray(v) ? '[]' : '{}'}\n`;
      else if (Array.isArray(v) && v.every((x) => x === null || typeof x !== 'object')) s += `${indent}${k}: ${v.slice(0, 20).join(', ')}${n > 20 ? `, … (${n})` : ''}\n`;
      else s += `${indent}${k}:\n${outline(Array.isArray(v) ? v.slice(0, 20) : v, indent + '  ')}${Array.isArray(v) && n > 20 ? `${indent}  … ${n - 20} more\n` : ''}`;
    } else s += `${indent}${k}: ${String(v)}\n`;
  }
  return s;
}
