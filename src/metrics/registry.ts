// A small Prometheus registry: counters, gauges and histograms with label names fixed when they are
// declared, rendered in the text exposition format (version 0.0.4). Label values are escaped. Callers
// pass only bounded values (executor, status, route pattern, status class), so the set of series stays
// small. Gauges may be read at scrape time (`collect`). Not here: which metrics drover has (drover.ts).
export type Labels = Record<string, string>;

type Series<V> = { labels: Labels; value: V };

const escape = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const num = (v: number) => (v === Infinity ? '+Inf' : v === -Infinity ? '-Inf' : Number.isNaN(v) ? 'NaN' : String(v));
function labelText(labels: Labels, extra?: [string, string]): string {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}="${escape(v)}"`);
  if (extra) pairs.push(`${extra[0]}="${escape(extra[1])}"`);
  return pairs.length ? `{${pairs.join(',')}}` : '';
}

abstract class Metric<V> {
  protected series = new Map<string, Series<V>>();
  constructor(readonly name: string, readonly help: string, readonly labelNames: readonly string[]) {}
  abstract readonly type: 'counter' | 'gauge' | 'histogram';
  protected abstract zero(): V;
  protected entry(labels: Labels = {}): Series<V> {
    const key = this.labelNames.map((n) => labels[n] ?? '').join('\u0000');
    let s = this.series.get(key);
    if (!s) {
      const own: Labels = {};
      for (const n of this.labelNames) own[n] = labels[n] ?? '';
      this.series.set(key, (s = { labels: own, value: this.zero() }));
    }
    return s;
  }
  /** Makes a series exist at 0 (so rate() sees it from the first scrape). */
  init(labels: Labels = {}): this { this.entry(labels); return this; }
  header(): string[] { return [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.type}`]; }
  abstract lines(): string[];
}

export class Counter extends Metric<number> {
  readonly type = 'counter';
  protected zero() { return 0; }
  inc(labels?: Labels, by = 1): void { if (by > 0) this.entry(labels).value += by; }
  get(labels?: Labels): number { return this.entry(labels).value; }
  lines(): string[] { return [...this.series.values()].map((s) => `${this.name}${labelText(s.labels)} ${num(s.value)}`); }
}

export class Gauge extends Metric<number> {
  readonly type: 'gauge' | 'counter' = 'gauge';
  constructor(name: string, help: string, labelNames: readonly string[], private collect?: () => [Labels, number][]) { super(name, help, labelNames); }
  protected zero() { return 0; }
  set(labels: Labels, v: number): void { this.entry(labels).value = v; }
  lines(): string[] {
    if (this.collect) { this.series.clear(); for (const [l, v] of this.collect()) this.set(l, v); }
    return [...this.series.values()].map((s) => `${this.name}${labelText(s.labels)} ${num(s.value)}`);
  }
}

type HistValue = { counts: number[]; sum: number; count: number };

export class Histogram extends Metric<HistValue> {
  readonly type = 'histogram';
  constructor(name: string, help: string, labelNames: readonly string[], readonly buckets: readonly number[]) {
    super(name, help, labelNames);
    if (buckets.some((b, i) => i > 0 && b <= buckets[i - 1]!)) throw new Error(`${name}: buckets must increase`);
  }
  protected zero(): HistValue { return { counts: this.buckets.map(() => 0), sum: 0, count: 0 }; }
  observe(labels: Labels, v: number): void {
    if (!Number.isFinite(v)) return;
    const h = this.entry(labels).value;
    for (let i = 0; i < this.buckets.length; i++) if (v <= this.buckets[i]!) h.counts[i]!++;
    h.sum += v; h.count++;
  }
  lines(): string[] {
    const out: string[] = [];
    for (const s of this.series.values()) {
      this.buckets.forEach((b, i) => out.push(`${this.name}_bucket${labelText(s.labels, ['le', num(b)])} ${s.value.counts[i]}`));
      out.push(`${this.name}_bucket${labelText(s.labels, ['le', '+Inf'])} ${s.value.count}`);
      out.push(`${this.name}_sum${labelText(s.labels)} ${num(s.value.sum)}`, `${this.name}_count${labelText(s.labels)} ${s.value.count}`);
    }
    return out;
  }
}

export class Registry {
  private metrics: Metric<unknown>[] = [];
  private extra: (() => string[])[] = [];
  private add<M extends Metric<any>>(m: M): M {
    if (this.metrics.some((x) => x.name === m.name)) throw new Error(`metric ${m.name} is declared twice`);
    this.metrics.push(m);
    return m;
  }
  counter(name: string, help: string, labelNames: readonly string[] = []): Counter { return this.add(new Counter(name, help, labelNames)); }
  gauge(name: string, help: string, labelNames: readonly string[] = [], collect?: () => [Labels, number][]): Gauge {
    return this.add(new Gauge(name, help, labelNames, collect));
  }
  histogram(name: string, help: string, labelNames: readonly string[], buckets: readonly number[]): Histogram {
    return this.add(new Histogram(name, help, labelNames, buckets));
  }
  counterFrom(name: string, help: string, labelNames: readonly string[], collect: () => [Labels, number][]): Gauge {
    return this.add(new SampledCounter(name, help, labelNames, collect));
  }
  /** Lines rendered by someone else (executor plugins' own metrics). */
  addLines(fn: () => string[]): void { this.extra.push(fn); }

  render(): string {
    const out: string[] = [];
    for (const m of this.metrics) out.push(...m.header(), ...m.lines());
    for (const fn of this.extra) out.push(...fn());
    return out.join('\n') + '\n';
  }
}

/** A counter kept by someone else (a plain number that only grows), read at scrape time. */
class SampledCounter extends Gauge { override readonly type = 'counter'; }

/** Seconds buckets: fast internal work (ticks, fsync, HTTP). */
export const FAST_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;
/** Seconds buckets: job queue waits and run times (a second to a week). */
export const JOB_BUCKETS = [0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 1800, 3600, 4 * 3600, 12 * 3600, 86400, 7 * 86400] as const;
