// The batch script of one allocation: it runs the server's own binary as `drover agent` for the
// queue's pool, with `--until` set from the allocation's start plus its walltime (less a margin), so
// the server hands it only jobs that fit. Everything in it is a drover-made path, id or number, each
// through shellQuote. The agent's token is NOT in it (Slurm keeps the script): it is in a 0600 file
// beside it, named by --token-file. With --nodes N, srun starts one agent per node.
import { shellQuote } from '../../runner/quote.ts';
import type { AllocQueueRow } from './types.ts';
import { queueShape } from './shape.ts';

/** The Slurm job name of an allocation: how a crash between sbatch and our write is resolved. */
export const jobName = (a: { id: string }) => `drover-alloc-${a.id}`;

/** How much earlier than the walltime end the agent's --until is: the script starts a little after the allocation does. */
export function untilMarginMs(timeMs: number): number {
  return Math.min(30_000, Math.ceil(timeMs * 0.05));
}

/** The longest job (resources.time) an allocation of this queue can ever take. */
export function usableMs(q: Pick<AllocQueueRow, 'time_ms'>): number {
  return q.time_ms - untilMarginMs(q.time_ms);
}

export interface ScriptInput {
  queue: Pick<AllocQueueRow, 'name' | 'pool' | 'time_ms' | 'idle_ms' | 'nodes' | 'sbatch_args' | 'node_cpus' | 'node_gpus' | 'cpus' | 'gpus'>;
  allocId: string;
  /** argv that runs this drover (the compiled binary, or bun + src/main.ts) */
  self: string[];
  serverUrl: string;
  tokenFile: string;
  workDir: string;
}

export function allocScript(i: ScriptInput): string {
  const q = i.queue;
  const agent = [
    ...i.self, 'agent', '--server', i.serverUrl, '--token-file', i.tokenFile, '--pool', q.pool,
    '--idle-exit', `${q.idle_ms}ms`,
  ].map(shellQuote).join(' ');
  // per node: its own work dir and name; as many slots as the allocation's CPUs on a node — the number
  // the sizing and the fit rule count with (Slurm may round up to whole cores: those stay unused)
  const shape = queueShape(q);
  const perNode = `--until "$until" --slots ${shape.cpus} --gpus ${shape.gpus} --work-dir ${shellQuote(i.workDir)}/"node-\${SLURM_NODEID:-0}" --name ${shellQuote(`alloc-${i.allocId}`)}-"\${SLURM_NODEID:-0}"`;
  const lines = [
    '#!/bin/bash',
    `# drover allocation ${i.allocId} of queue ${q.name.replace(/[^\w.-]/g, '_')} (pool ${q.pool.replace(/[^\w.-]/g, '_')})`,
    'set -u',
    `export until=$(( $(date +%s%3N) + ${q.time_ms - untilMarginMs(q.time_ms)} ))`,
  ];
  if (q.nodes > 1) lines.push(`exec srun --nodes=${q.nodes} --ntasks=${q.nodes} --ntasks-per-node=1 bash -c ${shellQuote(`exec ${agent} ${perNode}`)}`);
  else lines.push(`exec ${agent} ${perNode}`);
  return lines.join('\n') + '\n';
}
