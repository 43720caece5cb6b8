// Read throughput while a queue is full: a server (`--rate-limit 0`) is filled with N queued runs
// (sweeps of up to 10,000 runs whose one job waits for a remote agent that never comes, so nothing
// starts), then `wrk -t2 -c50 --latency` hits /healthz, /api/v1/runs?limit=50, the web page's first
// page (/api/v1/runs?collapse=group&limit=50) and /api/v1/queue, one after the other, each `rounds`
// times after a 2 s warm-up of each. Prints req/s and p99 per endpoint (median over rounds, with the
// spread of req/s). Not a test.
// `--drain P`: the jobs run `true` on the local executor at --max-parallel P instead, so the reads are
// measured while the queue drains (the scheduler commits all along, and every commit invalidates
// cached answers); the queued count at the start and end of each wrk run is printed.
//   bun bench/reads.ts [N,N2,...=100000] [--duration 10s] [--rounds 1] [--connections 50] [--threads 2] [--drain P]
// The token reaches wrk through a 0600 Lua file, never its command line.
import { writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { cpus, loadavg } from 'node:os';
import { withServer, droverCommand, removeRoots, round, type BenchServer } from './lib.ts';

const arg = (name: string, dflt: string) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1]! : dflt; };
const sizes = (process.argv[2] && !process.argv[2].startsWith('--') ? process.argv[2] : '100000').split(',').map(Number);
const duration = arg('duration', '10s');
const rounds = Math.max(1, Number(arg('rounds', '1')));
const connections = arg('connections', '50');
const threads = arg('threads', '2');
const drain = Number(arg('drain', '0'));
const SWEEP = 10_000;

const ENDPOINTS = [
  ['healthz', '/healthz'],
  ['runs?limit=50', '/api/v1/runs?limit=50'],
  ['runs?collapse=group&limit=50', '/api/v1/runs?collapse=group&limit=50'],
  ['queue', '/api/v1/queue'],
] as const;

interface Sample { rps: number; p99: number; errors: number }

function ms(text: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text);
  if (!m) return NaN;
  return Number(m[1]) * ({ us: 0.001, ms: 1, s: 1000, m: 60_000 } as Record<string, number>)[m[2]!]!;
}

async function fill(s: BenchServer, n: number): Promise<void> {
  for (let made = 0, k = 0; made < n; k++) {
    const size = Math.min(SWEEP, n - made);
    const spec = { name: `reads-${k}`, matrix: { i: Array.from({ length: size }, (_, i) => i) }, stages: [{ name: 'main', jobs: [{ name: 'j', executor: drain ? 'local' : 'agent', commands: ['true'] }] }] };
    await s.must('POST', '/runs', { spec });
    made += size;
    process.stderr.write(`bench reads: ${made}/${n} runs queued\n`);
  }
  const q = (await s.must('GET', '/queue')).body;
  if (!drain && q.queued !== n) throw new Error(`expected ${n} queued jobs, /queue says ${q.queued}`);
}

async function wrk(url: string, script: string, d = duration): Promise<Sample> {
  const p = Bun.spawn(['wrk', `-t${threads}`, `-c${connections}`, `-d${d}`, '--latency', '-s', script, url], { stdout: 'pipe', stderr: 'pipe' });
  const out = await new Response(p.stdout).text();
  if ((await p.exited) !== 0) throw new Error(`wrk failed: ${await new Response(p.stderr).text()}`);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const p99 = ms(/^\s+99%\s+(\S+)/m.exec(out)?.[1] ?? '');
  const errors = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0) + Number(/Socket errors:.*timeout (\d+)/.exec(out)?.[1] ?? 0);
  return { rps, p99, errors };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function measure(n: number): Promise<string[]> {
  return withServer(['--rate-limit', '0', '--max-sweep', String(SWEEP), ...(drain ? ['--max-parallel', String(drain)] : [])], async (s) => {
    await fill(s, n);
    if (!drain) await Bun.sleep(1000); // the submits' ticks settle
    const script = join(s.root, 'auth.lua');
    writeFileSync(script, `wrk.headers["Authorization"] = "Bearer ${s.token}"\n`, { mode: 0o600 });
    chmodSync(script, 0o600);
    const base = new URL(s.url).origin;
    const got = new Map<string, Sample[]>(ENDPOINTS.map(([k]) => [k, []]));
    for (const [, path] of ENDPOINTS) await wrk(base + path, script, '2s'); // warm-up (JIT, caches), not reported
    for (let r = 0; r < rounds; r++) {
      for (const [key, path] of ENDPOINTS) {
        const q0 = drain ? (await s.must('GET', '/queue')).body.queued : n;
        const x = await wrk(base + path, script);
        const q1 = drain ? (await s.must('GET', '/queue')).body.queued : n;
        got.get(key)!.push(x);
        process.stderr.write(`bench reads: n=${n} round ${r + 1} ${key}: ${round(x.rps, 0)} req/s, p99 ${x.p99} ms${x.errors ? `, ${x.errors} errors` : ''}${drain ? `, queued ${q0} → ${q1}` : ''}\n`);
      }
    }
    return ENDPOINTS.map(([key]) => {
      const xs = got.get(key)!;
      const rps = xs.map((x) => x.rps), p99 = xs.map((x) => x.p99);
      const errs = xs.reduce((a, x) => a + x.errors, 0);
      const spread = xs.length > 1 ? ` (${round(Math.min(...rps), 0)}–${round(Math.max(...rps), 0)})` : '';
      return `| ${n.toLocaleString('en')} | ${key} | ${round(median(rps), 0).toLocaleString('en')}${spread} | ${round(median(p99), 2)} |${errs ? ` ${errs} errors` : ''}`;
    });
  });
}

const rows: string[] = [];
try {
  for (const n of sizes) rows.push(...await measure(n));
} finally { removeRoots(); }
console.log(`\ndrover reads — ${droverCommand().label}, ${cpus().length} CPUs, wrk -t${threads} -c${connections} -d${duration}, ${rounds} round(s)${drain ? `, draining at --max-parallel ${drain}` : ', nothing runs'}, load ${round(loadavg()[0], 2)} at end\n`);
console.log('| queued runs | endpoint | req/s (median) | p99 ms |\n|---|---|---|---|');
for (const r of rows) console.log(r);
