// SQL statements per job (issue #19's "≤ 8 statements per job on the `true` path"): a server with
// DROVER_SQL_STATS=1 runs one stage of N `true` jobs at --max-parallel 2; the statement counter in
// /metrics is read before the submit and after the last job ended, so the server's idle work between
// (ticks, heartbeats) is in the count too, as it is in real life.
//   bun bench/statements.ts [N=500]
// A count, not a time: it is stable on a loaded machine.
import { readFileSync } from 'node:fs';
import { withServer, pollUntil, wideSpec, type BenchServer } from './lib.ts';

const n = Number(process.argv[2] ?? 500);
process.env.DROVER_SQL_STATS = '1';

/** the server's CPU time and that of the children it reaped (the job runners), in ms (/proc/<pid>/stat) */
function cpuMs(pid: number): { self: number; children: number } {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ').map(Number);
  const tick = 1000 / 100; // USER_HZ
  return { self: (f[11]! + f[12]!) * tick, children: (f[13]! + f[14]!) * tick };
}
async function metricsText(s: BenchServer): Promise<string> {
  return (await fetch(`${s.url}/metrics`, { headers: { authorization: `Bearer ${s.token}` } })).text();
}
async function ticks(s: BenchServer): Promise<number> {
  return Number(/^drover_scheduler_tick_duration_seconds_count (\d+)/m.exec(await metricsText(s))?.[1] ?? NaN);
}
async function statements(s: BenchServer): Promise<number> {
  const m = /^drover_sqlite_statements_total (\d+)/m.exec(await metricsText(s));
  if (!m) throw new Error('no drover_sqlite_statements_total in /metrics (DROVER_SQL_STATS=1 not honoured?)');
  return Number(m[1]);
}
/** per statement text: calls */
async function bySql(s: BenchServer): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const m of (await metricsText(s)).matchAll(/^drover_sqlite_statement_calls_total\{sql="((?:[^"\\]|\\.)*)"\} (\d+)$/gm)) out.set(m[1]!.replace(/\\(.)/g, '$1'), Number(m[2]));
  return out;
}

const out = await withServer(['--max-parallel', '2'], async (s) => {
  await Bun.sleep(500);
  const before = await statements(s);
  const cpu0 = cpuMs(s.pid);
  const ticks0 = await ticks(s);
  const sqlBefore = await bySql(s);
  const post = await s.must('POST', '/runs', { spec: wideSpec('bench-statements', n) });
  const afterSubmit = await statements(s);
  // progress from /queue (two cheap reads); the run itself is read once, after the count
  const drained = await pollUntil(async () => {
    const q = (await s.api('GET', '/queue')).body;
    return q.running || q.queued ? null : true;
  }, 600_000, 200);
  const after = await statements(s);
  const cpu1 = cpuMs(s.pid);
  const ticks1 = await ticks(s);
  const sqlAfter = await bySql(s);
  const run = (await s.api('GET', `/runs/${post.body.run.id}`)).body;
  if (!drained || run.status !== 'succeeded') throw new Error(`the run did not succeed: ${run.status}`);
  const top = [...sqlAfter].map(([sql, n]) => [sql, n - (sqlBefore.get(sql) ?? 0)] as const).filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]);
  return { submit: afterSubmit - before, total: after - before, top, ticks: ticks1 - ticks0, cpu: { self: cpu1.self - cpu0.self, children: cpu1.children - cpu0.children } };
});
// (the /queue polls, five a second, are in the count: two statements each)
console.log('per job  statement');
for (const [sql, k] of out.top.slice(0, 25)) console.log(`${(k / n).toFixed(2).padStart(7)}  ${sql}`);
console.log(JSON.stringify({ jobs: n, statements: out.total, per_job: +(out.total / n).toFixed(2), submit_per_job: +(out.submit / n).toFixed(2), run_per_job: +((out.total - out.submit) / n).toFixed(2), ticks_per_job: +(out.ticks / n).toFixed(2), server_cpu_ms_per_job: +(out.cpu.self / n).toFixed(3), runner_cpu_ms_per_job: +(out.cpu.children / n).toFixed(3) }));
