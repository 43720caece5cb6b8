// /metrics as an admin uses it: a real Prometheus (Debian's `prometheus`; `npm test` installs it)
// scrapes a real server every second with the admin token from a file, and the test asks Prometheus's
// HTTP API, not the text: the 0.9 quantile of the queue wait over rate() of the histogram buckets, and
// the job outcome counter, must equal what the jobs' own timestamps and statuses imply; and every query
// of docs/grafana.json must be valid PromQL that returns series.
// DROVER_TEST_SKIP_PROMETHEUS=1 skips this on purpose (one warning).
import { test, expect, afterAll } from 'bun:test';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Subprocess } from 'bun';
import { startServer, waitFor, type TestServer } from '../helpers/server.ts';
import { JOB_BUCKETS } from '../../src/metrics/registry.ts';

const SKIP = process.env.DROVER_TEST_SKIP_PROMETHEUS === '1';
if (SKIP) console.warn('[prometheus.test] DROVER_TEST_SKIP_PROMETHEUS=1: the real-Prometheus test is skipped ON PURPOSE');
const PROMETHEUS = process.env.DROVER_TEST_PROMETHEUS ?? '/usr/bin/prometheus';

let s: TestServer | undefined;
let prom: Subprocess | undefined;
afterAll(async () => { prom?.kill(); await prom?.exited; await s?.stop(); });

function freePort(): number {
  const l = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } });
  const port = l.port;
  l.stop(true);
  return port;
}

/** histogram_quantile as Prometheus computes it: linear interpolation inside the bucket holding the rank. */
function bucketQuantile(q: number, values: number[], bounds: readonly number[]): number {
  const cum = bounds.map((b) => values.filter((v) => v <= b).length);
  const rank = q * values.length;
  const i = cum.findIndex((c) => c >= rank);
  const lower = i === 0 ? 0 : bounds[i - 1]!;
  const below = i === 0 ? 0 : cum[i - 1]!;
  return lower + (bounds[i]! - lower) * ((rank - below) / (cum[i]! - below));
}

(SKIP ? test.skip : test)('a real Prometheus scrapes /metrics with a token: queue-wait quantile and job counts match the jobs', async () => {
  if (!existsSync(PROMETHEUS)) throw new Error(`Prometheus is missing at ${PROMETHEUS}: apt-get install -y prometheus (npm test does it as root), or DROVER_TEST_SKIP_PROMETHEUS=1`);
  s = await startServer(['--max-parallel', '1']);
  const root = s.root;
  const tokenFile = join(root, 'prom.token');
  writeFileSync(tokenFile, s.token, { mode: 0o600 });
  const target = new URL(s.url).host;
  writeFileSync(join(root, 'prometheus.yml'), [
    'global: { scrape_interval: 1s, evaluation_interval: 1s }',
    'scrape_configs:',
    '  - job_name: drover',
    '    metrics_path: /metrics',
    `    authorization: { type: Bearer, credentials_file: ${tokenFile} }`,
    `    static_configs: [{ targets: ['${target}'] }]`,
  ].join('\n') + '\n');
  const port = freePort();
  prom = Bun.spawn([PROMETHEUS, `--config.file=${join(root, 'prometheus.yml')}`, `--storage.tsdb.path=${join(root, 'tsdb')}`,
    `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], { cwd: root, stdout: 'ignore', stderr: 'pipe' });
  const query = async (expr: string) => {
    const r = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = await r.json() as any;
    if (body.status !== 'success') throw new Error(`${expr}: ${JSON.stringify(body)}`);
    return body.data.result as { metric: Record<string, string>; value: [number, string] }[];
  };
  const scalar = async (expr: string) => { const r = await query(expr); return r.length === 1 ? Number(r[0]!.value[1]) : NaN; };

  // a first scrape (with the token) before any job: every series starts at 0 inside the rate() window
  await waitFor(async () => (await scalar('up{job="drover"}')) === 1 && (await scalar('drover_jobs_total{executor="local",status="succeeded"}')) === 0,
    { timeoutMs: 30_000, intervalMs: 250, what: 'Prometheus to scrape the server' });

  // one slot: five jobs of ~1 s queue behind each other (waits ~0, 1, 2, 3, 4 s); one more fails
  const jobs = [...Array.from({ length: 5 }, (_, i) => ({ name: `wait${i}`, commands: ['sleep 1'] })), { name: 'boom', commands: ['exit 3'] }];
  const sub = await s.submit({ name: 'prom', stages: [{ name: 'main', jobs }] });
  const run = await s.waitRun(sub.run.id, undefined, 60_000);
  const ended = run.stages[0].jobs;
  expect(ended.map((j: any) => j.status).sort()).toEqual(['failed', 'succeeded', 'succeeded', 'succeeded', 'succeeded', 'succeeded']);
  const waits = ended.map((j: any) => (Date.parse(j.started_at) - Date.parse(j.queued_at)) / 1000);
  expect(Math.max(...waits)).toBeGreaterThan(2); // they really queued

  await waitFor(async () => (await scalar('drover_jobs_total{executor="local",status="succeeded"}')) === 5, { timeoutMs: 30_000, intervalMs: 250, what: 'the counter in Prometheus' });
  expect(await scalar('drover_jobs_total{executor="local",status="failed"}')).toBe(1);
  expect(await scalar('sum(drover_jobs_total)')).toBe(6);
  expect(await scalar('rate(drover_jobs_total{executor="local",status="succeeded"}[1m])')).toBeGreaterThan(0);
  const p90 = await scalar('histogram_quantile(0.9, rate(drover_job_queue_wait_seconds_bucket{executor="local"}[1m]))');
  expect(p90).toBeCloseTo(bucketQuantile(0.9, waits, JOB_BUCKETS), 3);
  // the run time histogram and the build info are there too, and HTTP timings by route pattern
  expect(await scalar('drover_job_run_seconds_count{executor="local"}')).toBe(6);
  expect((await query('drover_build_info'))[0]!.metric).toMatchObject({ version: expect.any(String), bun: Bun.version });
  expect(await scalar('sum(drover_http_request_duration_seconds_count{route="/api/v1/runs",method="POST",status="2xx"})')).toBe(1);

  // every query of the Grafana dashboard (docs/grafana.json) is valid PromQL and returns series
  const dash = JSON.parse(readFileSync(join(import.meta.dir, '../../docs/grafana.json'), 'utf8'));
  for (const panel of dash.panels) {
    for (const t of panel.targets) {
      const expr = String(t.expr).replaceAll('$__rate_interval', '1m');
      if (/drover_slurm_/.test(expr) && !Bun.which('sbatch')) continue; // the Slurm executor's lines exist only where sbatch does
      expect((await query(expr)).length, `${panel.title}: ${expr}`).toBeGreaterThan(0);
    }
  }
}, 120_000);
