// GET /metrics in Prometheus text format: the gauges of the queue (jobs running/queued, slots, limits,
// storage), each executor's own lines, the reaper's and the agent broker's counters, then drover's
// metric set (src/metrics/drover.ts: outcomes, histograms, HTTP, WebSocket, SQLite, GC, build info).
import type { ServerDeps } from './deps.ts';
import { queueSnapshot } from './routes/queue.ts';

const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

export function renderMetrics(d: ServerDeps): string {
  const q = queueSnapshot(d);
  const lines = [
    '# HELP drover_up 1 while the server runs', '# TYPE drover_up gauge', 'drover_up 1',
    '# HELP drover_max_parallel global parallel limit', '# TYPE drover_max_parallel gauge', `drover_max_parallel ${q.max_parallel}`,
    '# HELP drover_jobs_running jobs running now', '# TYPE drover_jobs_running gauge', `drover_jobs_running ${q.running}`,
    '# HELP drover_jobs_queued jobs waiting for a slot', '# TYPE drover_jobs_queued gauge', `drover_jobs_queued ${q.queued}`,
    '# HELP drover_executor_slots slots per executor', '# TYPE drover_executor_slots gauge',
    ...Object.entries(q.executors).map(([n, e]) => `drover_executor_slots{executor="${n}"} ${e.slots}`),
    '# HELP drover_executor_used slots in use per executor', '# TYPE drover_executor_used gauge',
    ...Object.entries(q.executors).map(([n, e]) => `drover_executor_used{executor="${n}"} ${e.used}`),
    '# HELP drover_storage_ok 0 while writes fail (disk full or read-only)', '# TYPE drover_storage_ok gauge', `drover_storage_ok ${q.storage.ok ? 1 : 0}`,
    '# HELP drover_process_resident_bytes server RSS', '# TYPE drover_process_resident_bytes gauge', `drover_process_resident_bytes ${process.memoryUsage.rss()}`,
  ];
  lines.push('# HELP drover_executor_info loaded executors: source (built-in or plugin file) and plugin API version (always 1)', '# TYPE drover_executor_info gauge',
    ...Object.entries(q.executors).map(([n, e]) => `drover_executor_info{executor="${n}",source="${esc(String(e.source))}",api_version="${e.api_version ?? ''}"} 1`));
  lines.push('# HELP drover_executor_available 0 while an executor reports its backend missing', '# TYPE drover_executor_available gauge',
    ...Object.entries(q.executors).map(([n, e]) => `drover_executor_available{executor="${n}"} ${e.available === false ? 0 : 1}`));
  lines.push('# HELP drover_executor_call_errors_total executor calls that threw, hung past --plugin-timeout or answered nonsense', '# TYPE drover_executor_call_errors_total counter');
  for (const e of d.core.load().executors) for (const [call, n] of Object.entries(e.callErrors)) lines.push(`drover_executor_call_errors_total{executor="${e.name}",call="${call}"} ${n}`);
  lines.push(...d.core.executorMetrics());
  lines.push('# HELP drover_reaper_total jobs the reaper acted on, by tier', '# TYPE drover_reaper_total counter');
  for (const [tier, n] of Object.entries(d.core.reaperCounters())) lines.push(`drover_reaper_total{tier="${tier}"} ${n}`);
  lines.push('# HELP drover_agent_total agent protocol events', '# TYPE drover_agent_total counter');
  for (const [what, n] of Object.entries(d.broker.counters)) lines.push(`drover_agent_total{event="${what}"} ${n}`);
  if (d.alloc) lines.push(...d.alloc.metricsLines());
  return lines.join('\n') + '\n' + (d.metrics?.render() ?? '');
}
