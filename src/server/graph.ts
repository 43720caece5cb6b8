// A run's DAG with statuses as JSON, Graphviz dot or Mermaid.
import type { JobRow, StageRow } from '../core/types.ts';

export function renderGraph(stages: StageRow[], jobs: JobRow[], format: 'json' | 'dot' | 'mermaid') {
  const nodes = stages.map((s) => ({ id: s.name, status: s.status, jobs: jobs.filter((j) => j.stage_id === s.id).map((j) => ({ id: j.id, name: j.name, status: j.status })) }));
  const edges = stages.flatMap((s) => (JSON.parse(s.needs) as string[]).map((n) => ({ from: n, to: s.name })));
  if (format === 'json') return { nodes, edges };
  const q = (s: string) => JSON.stringify(s);
  if (format === 'dot') {
    return ['digraph run {', '  rankdir=LR;',
      ...nodes.map((n) => `  ${q(n.id)} [label=${q(`${n.id}\n${n.status}`)}, shape=box];`),
      ...edges.map((e) => `  ${q(e.from)} -> ${q(e.to)};`), '}', ''].join('\n');
  }
  const mid = (s: string) => 's_' + s.replace(/[^A-Za-z0-9_]/g, '_');
  return ['graph LR',
    ...nodes.map((n) => `  ${mid(n.id)}["${n.id.replace(/"/g, "'")}<br/>${n.status}"]`),
    ...edges.map((e) => `  ${mid(e.from)} --> ${mid(e.to)}`), ''].join('\n');
}
