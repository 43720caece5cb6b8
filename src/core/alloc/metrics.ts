// Allocation queues on /metrics: allocations by queue and state, sbatch calls and failures, paused
// queues, and jobs handed out per allocation that ended. Queue names are [A-Za-z0-9_.-] (add.ts).
import type { AllocBackend, AllocStore } from './types.ts';

export function allocMetrics(store: AllocStore, backend: AllocBackend): string[] {
  const queues = new Map(store.queues().map((q) => [q.id, q]));
  const esc = (v: string) => v.replace(/["\\\n]/g, '_');
  const lines = [
    '# HELP drover_alloc_allocations allocations per queue and state', '# TYPE drover_alloc_allocations gauge',
  ];
  const per = new Map<string, { jobs: number; ended: number }>();
  for (const c of store.countsByStatus()) {
    const q = queues.get(c.queue_id);
    if (!q) continue;
    lines.push(`drover_alloc_allocations{queue="${esc(q.name)}",status="${c.status}"} ${c.n}`);
    const p = per.get(q.name) ?? { jobs: 0, ended: 0 };
    if (c.status === 'ended' || c.status === 'failed' || c.status === 'canceled') { p.jobs += c.jobs; p.ended += c.n; }
    per.set(q.name, p);
  }
  lines.push('# HELP drover_alloc_sbatch_calls_total sbatch calls made for allocations', '# TYPE drover_alloc_sbatch_calls_total counter');
  for (const q of queues.values()) lines.push(`drover_alloc_sbatch_calls_total{queue="${esc(q.name)}"} ${q.sbatch_calls}`);
  lines.push('# HELP drover_alloc_queue_paused 1 while the queue is paused (by hand or after failed submissions)', '# TYPE drover_alloc_queue_paused gauge');
  for (const q of queues.values()) lines.push(`drover_alloc_queue_paused{queue="${esc(q.name)}"} ${q.status === 'paused' ? 1 : 0}`);
  lines.push('# HELP drover_alloc_jobs_per_allocation jobs handed out to the agents of allocations that ended', '# TYPE drover_alloc_jobs_per_allocation summary');
  for (const [name, p] of per) lines.push(`drover_alloc_jobs_per_allocation_sum{queue="${esc(name)}"} ${p.jobs}`, `drover_alloc_jobs_per_allocation_count{queue="${esc(name)}"} ${p.ended}`);
  const calls = backend.calls();
  lines.push('# HELP drover_alloc_sbatch_failures_total sbatch calls for allocations that failed', '# TYPE drover_alloc_sbatch_failures_total counter', `drover_alloc_sbatch_failures_total ${calls.sbatch_failures}`);
  return lines;
}
