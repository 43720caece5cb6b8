// /metrics beyond what Prometheus itself checks (prometheus.test.ts): the text format of the registry,
// bounded labels (route patterns, not ids; a pipeline label only with --metrics-pipeline-labels), and
// that each source really moves: redactions, stored log bytes, WebSocket clients, GC removals, fsyncs.
import { test, expect, afterAll } from 'bun:test';
import { startServer, type TestServer } from '../helpers/server.ts';
import { WsClient } from '../ws/helpers.ts';
import { Registry } from '../../src/metrics/registry.ts';

const servers: TestServer[] = [];
afterAll(async () => { for (const s of servers) await s.stop(); });

async function scrape(s: TestServer): Promise<string> {
  const r = await fetch(`${s.url}/metrics`, { headers: { authorization: `Bearer ${s.token}` } });
  expect(r.status).toBe(200);
  return r.text();
}
/** The value of one series, by its exact name and labels text (e.g. `drover_jobs_total{executor="local",status="failed"}`). */
const value = (text: string, series: string) => {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

test('the registry renders counters, gauges and cumulative histograms in the text format, escapes labels, refuses a duplicate name', () => {
  const r = new Registry();
  r.counter('t_total', 'a counter', ['k']).inc({ k: 'a"b\\c\nd' }, 2);
  const h = r.histogram('t_seconds', 'a histogram', [], [0.1, 1]);
  for (const v of [0.05, 0.5, 0.7, 3]) h.observe({}, v);
  r.gauge('t_now', 'a gauge read at scrape time', ['x'], () => [[{ x: '1' }, 7]]);
  r.counterFrom('t_kept_total', 'kept elsewhere', [], () => [[{}, 4]]);
  expect(r.render()).toBe([
    '# HELP t_total a counter', '# TYPE t_total counter', 't_total{k="a\\"b\\\\c\\nd"} 2',
    '# HELP t_seconds a histogram', '# TYPE t_seconds histogram',
    't_seconds_bucket{le="0.1"} 1', 't_seconds_bucket{le="1"} 3', 't_seconds_bucket{le="+Inf"} 4', 't_seconds_sum 4.25', 't_seconds_count 4',
    '# HELP t_now a gauge read at scrape time', '# TYPE t_now gauge', 't_now{x="1"} 7',
    '# HELP t_kept_total kept elsewhere', '# TYPE t_kept_total counter', 't_kept_total 4',
  ].join('\n') + '\n');
  expect(() => r.counter('t_total', 'again')).toThrow('declared twice');
});

test('each source moves: outcomes, run time, log bytes, redactions, HTTP by route pattern, WebSocket clients, fsync, GC', async () => {
  const s = await startServer(['--max-parallel', '2']);
  servers.push(s);
  expect((await s.api('PUT', '/secrets/API_KEY', { value: 's3cr3t-value-xyz' })).status).toBe(201);
  const sub = await s.submit({ name: 'm', secrets: ['API_KEY'], retention: { keep_last: 0 }, stages: [{ name: 'main', jobs: [
    { name: 'leak', commands: ['echo "key=$API_KEY"; echo "again $API_KEY"'] },
    { name: 'bad', commands: ['exit 2'] },
  ] }] });
  const run = await s.waitRun(sub.run.id);
  expect(run.status).toBe('failed');
  await s.api('GET', `/runs/${sub.run.id}`);
  const ws = await WsClient.open(s);
  let text = await scrape(s);
  expect(value(text, 'drover_jobs_total{executor="local",status="succeeded"}')).toBe(1);
  expect(value(text, 'drover_jobs_total{executor="local",status="failed"}')).toBe(1);
  expect(value(text, 'drover_job_run_seconds_count{executor="local"}')).toBe(2);
  expect(value(text, 'drover_log_bytes_stored_total{executor="local"}')).toBeGreaterThan(20);
  expect(value(text, 'drover_log_redactions_total')).toBe(2);
  expect(value(text, 'drover_ws_clients')).toBe(1);
  expect(value(text, 'drover_http_request_duration_seconds_count{method="GET",route="/api/v1/runs/:id",status="2xx"}')).toBeGreaterThan(0);
  expect(text).not.toContain(sub.run.id); // ids never become label values
  expect(text).not.toContain('pipeline=');
  expect(value(text, 'drover_sqlite_fsync_duration_seconds_count')).toBeGreaterThan(0);
  expect(value(text, 'drover_sqlite_database_bytes')).toBeGreaterThan(0);
  expect(text).toMatch(/^drover_build_info\{version="\d+\.\d+\.\d+",bun="[^"]+"\} 1$/m);
  expect(value(text, 'drover_scheduler_tick_duration_seconds_count')).toBeGreaterThan(0);
  ws.close();

  expect((await s.api('POST', '/gc?dry_run=false')).body.runs_removed).toBe(1);
  text = await scrape(s);
  expect(value(text, 'drover_gc_runs_removed_total')).toBe(1);
  expect(value(text, 'drover_gc_bytes_freed_total')).toBeGreaterThan(0);
  expect(value(text, 'drover_http_request_duration_seconds_count{method="GET",route="unmatched",status="4xx"}')).toBeUndefined();
  await s.api('GET', '/no/such/thing');
  expect(value(await scrape(s), 'drover_http_request_duration_seconds_count{method="GET",route="unmatched",status="4xx"}')).toBe(1);
});

test('--metrics-pipeline-labels adds the pipeline to the per-job series', async () => {
  const s = await startServer(['--metrics-pipeline-labels']);
  servers.push(s);
  const sub = await s.submit({ name: 'labelled', stages: [{ name: 'main', jobs: [{ name: 'j', commands: ['true'] }] }] });
  await s.waitRun(sub.run.id);
  const text = await scrape(s);
  expect(value(text, 'drover_jobs_total{executor="local",status="succeeded",pipeline="labelled"}')).toBe(1);
  expect(value(text, 'drover_job_queue_wait_seconds_count{executor="local",pipeline="labelled"}')).toBe(1);
});
