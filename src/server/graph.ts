// A run's DAG with statuses as JSON, Graphviz dot or Mermaid. A stage node counts its jobs by status
// (a job-level matrix makes many); JSON lists every job with its matrix point.
import type { JobRow, StageRow } from '../core/types.ts';

export function renderGraph(stages: StageRow[], jobs: JobRow[], format: 'json' | 'dot' | 'mermaid') {
  const nodes = stages.map((s) => ({ id: s.name, status: s.status, jobs: jobs.filter((j) => j.stage_id === s.id).map((j) => ({ id: j.id, name: j.name, status: j.status, matrix: j.matrix ? JSON.parse(j.matrix) as Record<string, unknown> : null })) }));
  const edges = stages.flatMap((s) => (JSON.parse(s.needs) as string[]).map((n) => ({ from: n, to: s.name })));
  if (format === 'json') return { nodes, edges };
  const q = (s: string) => JSON.stringify(s);
  const label = (n: (typeof nodes)[number], nl: string) => `${n.id}${nl}${n.status}${n.jobs.length > 1 ? `${nl}${tally(n.jobs)}` : ''}`;
  if (format === 'dot') {
    return ['digraph run {', '  rankdir=LR;',
      ...nodes.map((n) => `  ${q(n.id)} [label=${q(label(n, '\n'))}, shape=box];`),
      ...edges.map((e) => `  ${q(e.from)} -> ${q(e.to)};`), '}', ''].join('\n');
  }
  const mid = (s: string) => 's_' + s.replace(/[^A-Za-z0-9_]/g, '_');
  return ['graph LR',
    ...nodes.map((n) => `  ${mid(n.id)}["${label(n, '<br/>').replace(/"/g, "'")}"]`),
    ...edges.map((e) => `  ${mid(e.from)} --> ${mid(e.to)}`), ''].join('\n');
}

/** `6 jobs: 5 succeeded, 1 failed` */
function tally(jobs: { status: string }[]): string {
  const by = new Map<string, number>();
  for (const j of jobs) by.set(j.status, (by.get(j.status) ?? 0) + 1);
  return `${jobs.length} jobs: ${[...by].map(([s, n]) => `${n} ${s}`).join(', ')}`;
}
