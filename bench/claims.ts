// Claim throughput of ONE agent (API.md §2 `max`): N queued agent jobs on a fresh server, one client
// claiming them back to back (no completions, no job runs), with `max` 1 (one job per request, as
// every agent did before batch claims) and `max` 32, each on its own server in the same run. Reports
// jobs handed out per second and the mean request time. Run: `bun bench/claims.ts [N]`.
import { withServer, now, removeRoots, droverCommand } from './lib.ts';

const N = Number(process.argv[2] ?? 3000);

async function measure(max: number): Promise<{ max: number; jobs: number; seconds: number; jobsPerSec: number; requests: number; msPerRequest: number }> {
  return withServer(['--max-parallel', '2'], async (s) => {
    const agent = (await s.must('POST', '/tokens', { role: 'agent', name: 'bench' })).body.token as string;
    const spec = { name: 'bench-claims', stages: [{ name: 'main', jobs: Array.from({ length: N }, (_, i) => ({ name: `j${i}`, executor: 'agent', commands: ['true'] })) }] };
    await s.must('POST', '/runs', { spec });
    const claim = async () => {
      const res = await fetch(`${s.url}/api/v1/agents/claim`, {
        method: 'POST', headers: { authorization: `Bearer ${agent}`, 'content-type': 'application/json' },
        body: JSON.stringify({ agent: 'bench', wait_s: 0, ...(max > 1 ? { max } : {}) }),
      });
      if (res.status === 204) return 0;
      if (res.status !== 200) throw new Error(`claim → ${res.status}: ${await res.text()}`);
      const body = await res.json() as { items?: unknown[] };
      return body.items ? body.items.length : 1;
    };
    let jobs = 0, requests = 0;
    const t0 = now();
    for (;;) {
      const got = await claim();
      requests++;
      if (!got) break;
      jobs += got;
    }
    const seconds = (now() - t0) / 1000;
    return { max, jobs, seconds, jobsPerSec: jobs / seconds, requests, msPerRequest: (seconds * 1000) / requests };
  });
}

const rows = [];
for (const max of [1, 32]) rows.push(await measure(max));
removeRoots();
console.log(`claim throughput, one agent, ${N} queued jobs (${droverCommand().label})`);
for (const r of rows) console.log(`max ${String(r.max).padStart(2)}: ${r.jobs} jobs in ${r.seconds.toFixed(2)} s = ${r.jobsPerSec.toFixed(0)} jobs/s (${r.requests} requests, ${r.msPerRequest.toFixed(1)} ms each)`);
console.log(JSON.stringify(rows));
