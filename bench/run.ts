// `bun run bench`: runs each measurement in turn (peers, drover throughput, sweep submit,
// memory), prints one table and writes bench/results.json. Not a test: it never fails the
// build, but exits 1 when a target is missed. A watchdog stops everything after ~285 s.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpus } from 'node:os';
import { droverCommand, live, round } from './lib.ts';
import { xargsThroughput, tspThroughput, type PeerResult } from './peers.ts';
import { droverThroughput, type ThroughputResult } from './throughput.ts';
import { droverSweep, type SweepResult } from './sweep.ts';
import { droverRss, type RssResult } from './rss.ts';
import { renderTable, type Row } from './table.ts';

const N_THROUGHPUT = 2_000, N_SWEEP = 1_000, N_QUEUED = 10_000;
const WATCHDOG_MS = 285_000;

interface Results {
  xargs?: PeerResult; tsp?: PeerResult; throughput?: ThroughputResult; sweep?: SweepResult; rss?: RssResult;
  errors: Record<string, string>;
}
const results: Results = { errors: {} };

async function step<K extends Exclude<keyof Results, 'errors'>>(key: K, fn: () => Promise<Results[K]>) {
  process.stderr.write(`bench: ${key} …\n`);
  try { results[key] = await fn(); } catch (e) { results.errors[key] = (e as Error).stack ?? String(e); process.stderr.write(`bench: ${key} failed: ${e}\n`); }
}

const f = (x: number | null | undefined, d = 1) => (x == null || !Number.isFinite(x) ? 'n/a' : String(round(x, d)));

function rows(r: Results): Row[] {
  const t = r.throughput, x = r.xargs?.jobsPerSec ?? null, p = r.tsp?.jobsPerSec ?? null, d = t?.jobsPerSec ?? null;
  const done = t?.seconds != null;
  const peers = `xargs ${f(x)}; tsp ${f(p)}${r.tsp?.note ? ` (${r.tsp.note})` : ''}`;
  const out: Row[] = [
    { metric: `throughput, ${N_THROUGHPUT} x true, 2 parallel (jobs/s)`, drover: f(d) + (done ? '' : ' (partial)'), peers, target: '>= 400', pass: d != null && done && d >= 400 },
    { metric: 'drover / xargs', drover: f(d != null && x ? d / x : null, 2), peers: '', target: '>= 0.5 (within 2x)', pass: d != null && x != null && done && d / x >= 0.5 },
    { metric: 'drover / tsp', drover: f(d != null && p ? d / p : null, 2), peers: '', target: '> 1 (ahead)', pass: p == null ? null : d != null && done && d / p > 1 },
    { metric: 'jobs succeeded', drover: t ? `${t.succeeded}/${N_THROUGHPUT}` : 'n/a', peers: '', target: `${N_THROUGHPUT}/${N_THROUGHPUT}`, pass: t?.succeeded === N_THROUGHPUT },
    { metric: `sweep submit, ${N_SWEEP} runs, one POST (ms)`, drover: f(r.sweep?.postMs, 0), peers: '', target: '< 1000', pass: r.sweep ? r.sweep.postMs < 1000 && !r.sweep.note : false },
    { metric: 'idle server RSS (MB)', drover: f(r.rss?.idleMiB), peers: '', target: '< 80', pass: r.rss ? r.rss.idleMiB < 80 : false },
    { metric: `server RSS, ${N_QUEUED} queued jobs (MB)`, drover: f(r.rss?.loadedMiB), peers: '', target: '< 250', pass: r.rss ? r.rss.loadedMiB < 250 && !r.rss.note : false },
  ];
  const info: Row[] = [
    { metric: `  wall time for ${N_THROUGHPUT} jobs (s)`, drover: f(t?.seconds, 2), peers: `xargs ${f(r.xargs?.seconds, 2)}; tsp ${f(r.tsp?.seconds, 2)}`, target: '', pass: null },
    { metric: `  POST /runs with ${N_THROUGHPUT}-job stage (ms)`, drover: f(t?.postMs, 0), peers: '', target: '', pass: null },
    { metric: `  RSS after ${N_THROUGHPUT} jobs / peak (MB)`, drover: t ? `${f(t.afterRssMiB)} / ${f(t.peakRssMiB)}` : 'n/a', peers: '', target: '', pass: null },
    { metric: `  ${N_SWEEP}-run group: cancel until settled (ms)`, drover: f(r.sweep?.settledMs, 0), peers: '', target: '', pass: null },
    { metric: `  POST /runs ${N_QUEUED}-run sweep (ms)`, drover: f(r.rss?.postMs, 0), peers: '', target: '', pass: null },
    { metric: `  peak RSS with ${N_QUEUED} queued (MB)`, drover: f(r.rss?.peakMiB), peers: '', target: '', pass: null },
    { metric: `  ${N_QUEUED}-run group: cancel until settled (ms)`, drover: f(r.rss?.settledMs, 0), peers: '', target: '', pass: null },
  ];
  return [...out, ...info];
}

function finish(reason: string): never {
  const table = rows(results);
  const notes = [results.throughput?.note, results.sweep?.note, results.rss?.note, results.xargs?.note]
    .filter(Boolean).map((n) => `note: ${n}`);
  const errs = Object.entries(results.errors).map(([k, e]) => `error in ${k}: ${e.split('\n')[0]}`);
  console.log(`\ndrover bench — ${droverCommand().label}, ${cpus().length} CPUs, bun ${Bun.version}${reason ? ` — ${reason}` : ''}\n`);
  console.log(renderTable(table));
  for (const l of [...notes, ...errs]) console.log(l);
  const file = join(import.meta.dir, 'results.json');
  writeFileSync(file, JSON.stringify({
    at: new Date().toISOString(), drover: droverCommand().label, cpus: cpus().length, bun: Bun.version, reason,
    rows: table, results,
  }, null, 2) + '\n');
  console.log(`\nwrote ${file}`);
  process.exit(table.some((r) => r.pass === false) ? 1 : 0);
}

const watchdog = setTimeout(async () => {
  for (const s of live) s.proc?.kill('SIGKILL');
  finish(`stopped by the ${WATCHDOG_MS / 1000} s watchdog`);
}, WATCHDOG_MS);

await step('xargs', () => xargsThroughput(N_THROUGHPUT));
await step('tsp', () => tspThroughput(N_THROUGHPUT, 60_000));
await step('throughput', () => droverThroughput(N_THROUGHPUT, 120_000));
await step('sweep', () => droverSweep(N_SWEEP, 30_000));
await step('rss', () => droverRss(N_QUEUED, 60_000));
clearTimeout(watchdog);
finish('');
