// `bun run bench`: BENCH_ROUNDS (default 3) interleaved rounds of the throughput peers
// (xargs, tsp, drover), then sweep-submit latency the same number of times, then memory once;
// prints one table of medians and writes bench/results.json. Not a test: exits 1 when a
// target is missed. A watchdog stops everything after ~285 s and reports what it has.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpus, loadavg } from 'node:os';
import { droverCommand, live, round, removeRoots } from './lib.ts';
import { xargsThroughput, tspThroughput } from './peers.ts';
import { droverThroughput } from './throughput.ts';
import { droverSweep } from './sweep.ts';
import { droverRss } from './rss.ts';
import { buildRows, notes, type Samples } from './report.ts';
import { renderTable } from './table.ts';

const SIZES = { throughput: 2_000, sweep: 1_000, queued: 10_000 };
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3) || 3);
const WATCHDOG_MS = 285_000;

const samples: Samples = { xargs: [], tsp: [], throughput: [], sweep: [], rss: [] };
const errors: string[] = [];
const load0 = loadavg()[0];

async function step<K extends keyof Samples>(key: K, round: number, label: string, fn: () => Promise<Omit<Samples[K][number], 'round'>>) {
  process.stderr.write(`bench: ${label} …\n`);
  try { (samples[key] as unknown[]).push({ ...(await fn()), round }); } catch (e) {
    errors.push(`${label}: ${(e as Error).message ?? e}`);
    process.stderr.write(`bench: ${label} failed: ${(e as Error).stack ?? e}\n`);
  }
}

function finish(reason: string): never {
  const rows = buildRows(samples, SIZES);
  const head = `drover bench — ${droverCommand().label}, ${cpus().length} CPUs, bun ${Bun.version}, ${ROUNDS} round(s), ` +
    `load average ${round(load0, 2)} at start${reason ? ` — ${reason}` : ''}`;
  console.log(`\n${head}\n`);
  console.log(renderTable(rows));
  for (const n of notes(samples)) console.log(`note: ${n}`);
  for (const e of errors) console.log(`error: ${e}`);
  if (load0 > 0.5) console.log(`warning: the machine was busy at start (load ${round(load0, 2)}); numbers are noisy`);
  removeRoots();
  const file = join(import.meta.dir, 'results.json');
  writeFileSync(file, JSON.stringify({
    at: new Date().toISOString(), drover: droverCommand().label, cpus: cpus().length, bun: Bun.version,
    rounds: ROUNDS, loadavg_at_start: load0, reason, rows, errors, samples,
  }, null, 2) + '\n');
  console.log(`\nwrote ${file}`);
  process.exit(rows.some((r) => r.pass === false) ? 1 : 0);
}

const watchdog = setTimeout(() => {
  for (const s of live) s.proc?.kill('SIGKILL');
  finish(`stopped by the ${WATCHDOG_MS / 1000} s watchdog`);
}, WATCHDOG_MS);

for (let r = 1; r <= ROUNDS; r++) {
  await step('xargs', r, `round ${r}: xargs`, () => xargsThroughput(SIZES.throughput));
  await step('tsp', r, `round ${r}: tsp`, () => tspThroughput(SIZES.throughput, 60_000));
  await step('throughput', r, `round ${r}: drover throughput`, () => droverThroughput(SIZES.throughput, 90_000));
}
for (let r = 1; r <= ROUNDS; r++) await step('sweep', r, `round ${r}: sweep submit`, () => droverSweep(SIZES.sweep, 30_000));
await step('rss', 1, 'memory', () => droverRss(SIZES.queued, 60_000));
clearTimeout(watchdog);
finish('');
