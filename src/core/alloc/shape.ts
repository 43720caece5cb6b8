// The shape of an allocation: the CPUs and GPUs it gets on each of its nodes. Slurm gives a job what
// its arguments ask — 1 CPU and no GPU when they ask nothing, the whole node's CPUs with --exclusive —
// and never more than a node has; the node's own shape comes from sinfo at `alloc add` (NodeShape).
// The agent inside gets exactly these CPUs as its --slots, and the fit rule (sizing.ts) measures jobs
// against them, so a job is only counted as demand if an allocation's agent would take it.
import type { AllocQueueRow, NodeShape } from './types.ts';

export interface AllocShape {
  /** per node of the allocation */
  cpus: number; gpus: number;
  /** whether the arguments named the CPUs / GPUs (else Slurm's defaults: 1 CPU, no GPU) */
  cpusAsked: boolean; gpusAsked: boolean;
}

/** The value of a numeric sbatch option (`--long=N`, `--long N`, `-sN`, `-s N`); null when absent. */
function opt(args: string[], long: string, short?: string): string | null {
  let out: string | null = null;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a.startsWith(`--${long}=`)) out = a.slice(long.length + 3);
    else if (a === `--${long}` || (short && a === `-${short}`)) { if (args[i + 1] !== undefined && !args[i + 1]!.startsWith('-')) out = args[i + 1]!; }
    else if (short && a.startsWith(`-${short}`) && !a.startsWith('--')) out = a.slice(2);
  }
  return out; // the last one wins, as in sbatch
}

const int = (s: string | null): number | null => (s !== null && /^\d+$/.test(s) ? Number(s) : null);
/** `gpu:2`, `gpu:a100:2`, `gpu` (one), or a bare `2` (`--gpus=2`, `--gpus=a100:2`) → 2 */
function gpuCount(spec: string | null, bare: boolean): number | null {
  if (spec === null) return null;
  let n = 0, found = false;
  for (const item of spec.replace(/\([^)]*\)/g, '').split(',')) {
    const parts = item.trim().split(':');
    if (!bare && parts[0] !== 'gpu') continue;
    const rest = bare ? parts : parts.slice(1);
    const last = rest[rest.length - 1];
    found = true;
    n += rest.length && /^\d+$/.test(last ?? '') ? Number(last) : 1;
  }
  return found ? n : null;
}

/** What one allocation of these arguments on `nodes` nodes gets per node, bounded by the node when known. */
export function allocShape(argsJson: string | string[], nodes: number, node: NodeShape | null): AllocShape {
  const args = typeof argsJson === 'string' ? (JSON.parse(argsJson) as string[]) : argsJson;
  const n = Math.max(1, nodes);
  const perTask = int(opt(args, 'cpus-per-task', 'c'));
  const tasksPerNode = int(opt(args, 'ntasks-per-node')) ?? (int(opt(args, 'ntasks', 'n')) !== null ? Math.ceil(int(opt(args, 'ntasks', 'n'))! / n) : null);
  const minCpus = int(opt(args, 'mincpus'));
  const exclusive = args.some((a) => a === '--exclusive' || a.startsWith('--exclusive='));
  const cpusAsked = perTask !== null || tasksPerNode !== null || minCpus !== null || exclusive;
  let cpus = Math.max(minCpus ?? 0, (perTask ?? 1) * (tasksPerNode ?? 1), 1);
  if (exclusive && node) cpus = Math.max(cpus, node.cpus);
  const perNodeGpus = gpuCount(opt(args, 'gres'), false) ?? gpuCount(opt(args, 'gpus-per-node'), true);
  const totalGpus = gpuCount(opt(args, 'gpus', 'G'), true);
  const perTaskGpus = gpuCount(opt(args, 'gpus-per-task'), true);
  let gpus = perNodeGpus ?? (totalGpus !== null ? Math.floor(totalGpus / n) : perTaskGpus !== null ? perTaskGpus * (tasksPerNode ?? 1) : 0);
  const gpusAsked = perNodeGpus !== null || totalGpus !== null || perTaskGpus !== null;
  if (node) { cpus = Math.min(cpus, node.cpus); gpus = Math.min(gpus, node.gpus); }
  return { cpus, gpus, cpusAsked, gpusAsked };
}

/** A queue's shape per allocation node: as stored at `alloc add`, or (queues older than that) from its arguments. */
export function queueShape(q: Pick<AllocQueueRow, 'sbatch_args' | 'nodes' | 'node_cpus' | 'node_gpus' | 'cpus' | 'gpus'>): AllocShape {
  const node = q.node_cpus !== null && q.node_gpus !== null ? { cpus: q.node_cpus, gpus: q.node_gpus } : null;
  const s = allocShape(q.sbatch_args, q.nodes, node);
  return { ...s, cpus: q.cpus ?? s.cpus, gpus: q.gpus ?? s.gpus };
}

/** CPUs one allocation brings over all its nodes (the sizing's unit). */
export function slotsPerAllocation(q: Parameters<typeof queueShape>[0]): number {
  return queueShape(q).cpus * Math.max(1, q.nodes);
}

/** sinfo's `%c|%G` lines of the partition's nodes → the smallest node (a job that fits it fits any). */
export function parseNodeShapes(lines: string[]): NodeShape | null {
  let out: NodeShape | null = null;
  for (const line of lines) {
    const [c, g] = line.split('|').map((x) => x.trim());
    const cpus = /^(\d+)/.exec(c ?? '');
    if (!cpus) continue;
    const gpus = g && g !== '(null)' ? gpuCount(g, false) ?? 0 : 0;
    const shape = { cpus: Number(cpus[1]), gpus };
    out = out ? { cpus: Math.min(out.cpus, shape.cpus), gpus: Math.min(out.gpus, shape.gpus) } : shape;
  }
  return out;
}
