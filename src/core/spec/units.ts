// Duration and size parsing for specs: durations -> milliseconds, sizes -> MiB.

const DUR_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DUR_PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/y;
const NUM = /^\d+(?:\.\d+)?$/;

/** '500ms' | '30s' | '5m' | '2h' | '7d' | '1h30m' | bare number (seconds) -> integer ms. */
export function parseDuration(s: string | number): number {
  if (typeof s === 'number') {
    if (!Number.isFinite(s) || s < 0) throw new Error(`invalid duration ${s}: must be a non-negative number of seconds`);
    return Math.round(s * 1000);
  }
  if (typeof s !== 'string') throw new Error(`invalid duration: expected a string like '30s' or a number of seconds, got ${typeof s}`);
  const t = s.trim();
  const bad = () => new Error(`invalid duration '${s}' (use e.g. 500ms, 30s, 5m, 2h, 7d, or a number of seconds)`);
  if (t === '') throw bad();
  if (NUM.test(t)) return Math.round(Number(t) * 1000);
  let ms = 0;
  let pos = 0;
  while (pos < t.length) {
    DUR_PART.lastIndex = pos;
    const m = DUR_PART.exec(t);
    if (!m) throw bad();
    ms += Number(m[1]) * DUR_UNITS[m[2]!]!;
    pos = DUR_PART.lastIndex;
  }
  return Math.round(ms);
}

const SIZE_UNITS: Record<string, number> = { k: 1 / 1024, m: 1, g: 1024, t: 1024 * 1024 };
const SIZE = /^(\d+(?:\.\d+)?)\s*([kmgt])(?:i?b)?$/i;

/** '100K' | '512M' | '8G' | '1T' (binary units; optional 'B'/'iB') | bare number (MiB) -> MiB, rounded up. */
export function parseSize(s: string | number): number {
  if (typeof s === 'number') {
    if (!Number.isFinite(s) || s < 0) throw new Error(`invalid size ${s}: must be a non-negative number of MiB`);
    return Math.ceil(s);
  }
  if (typeof s !== 'string') throw new Error(`invalid size: expected a string like '8G' or a number of MiB, got ${typeof s}`);
  const t = s.trim();
  if (NUM.test(t)) return Math.ceil(Number(t));
  const m = SIZE.exec(t);
  if (!m) throw new Error(`invalid size '${s}' (use e.g. 100K, 512M, 8G, 1T, or a number of MiB)`);
  return Math.ceil(Number(m[1]) * SIZE_UNITS[m[2]!.toLowerCase()]!);
}
