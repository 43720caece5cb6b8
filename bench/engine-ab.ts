// A/B of the scheduler itself: the same throughput run (one stage of N `true` jobs, --max-parallel 2)
// through two drover binaries, alternating A, B, A, B… so machine load hits both alike, with
// `xargs -P2 sh -c true` measured in the same rounds as the peer.
//   bun bench/engine-ab.ts BINARY_A BINARY_B [N=2000] [ROUNDS=3]
// Used for #12 (before/after the engine refactor); any two builds can be compared.
import { droverThroughput } from './throughput.ts';
import { xargsThroughput } from './peers.ts';

const [a, b] = process.argv.slice(2, 4);
if (!a || !b) { console.error('usage: bun bench/engine-ab.ts BINARY_A BINARY_B [N] [ROUNDS]'); process.exit(2); }
const n = Number(process.argv[4] ?? 2000);
const rounds = Number(process.argv[5] ?? 3);
const rows: { label: string; round: number; jobsPerSec: number | null; note: string }[] = [];
for (let round = 1; round <= rounds; round++) {
  for (const [label, bin] of [['A', a], ['B', b]] as const) {
    process.env.DROVER_BENCH_BINARY = bin;
    const r = await droverThroughput(n, 600_000);
    rows.push({ label: `${label} ${bin}`, round, jobsPerSec: r.jobsPerSec, note: r.note });
    console.log(`round ${round} ${label}: ${r.jobsPerSec?.toFixed(0)} jobs/s ${r.note}`);
  }
  const x = await xargsThroughput(n);
  rows.push({ label: 'xargs -P2 sh -c true', round, jobsPerSec: x.jobsPerSec, note: x.note ?? '' });
  console.log(`round ${round} xargs: ${x.jobsPerSec?.toFixed(0)} jobs/s`);
}
const by = new Map<string, number[]>();
for (const r of rows) if (r.jobsPerSec !== null) by.set(r.label, [...(by.get(r.label) ?? []), r.jobsPerSec]);
console.log('\n| build | jobs/s (each round) | median |\n|---|---|---|');
for (const [label, v] of by) console.log(`| ${label} | ${v.map((x) => x.toFixed(0)).join(', ')} | ${[...v].sort((p, q) => p - q)[Math.floor(v.length / 2)]!.toFixed(0)} |`);
