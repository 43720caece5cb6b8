// `alloc add`: a new allocation queue, checked before anything is stored — its numbers, its pool, its
// sbatch arguments (drover's own options refused; the rest tried with the batch system's test mode,
// so a bad partition is refused here with Slurm's own words), and whether agents on the partition's
// nodes can reach the server's URL (a loopback URL and other hosts: a loud warning); and the shape of
// the partition's nodes (sinfo), which with the arguments gives the CPUs and GPUs of an allocation.
import { hostname } from 'node:os';
import { DroverError } from '../errors.ts';
import { newId, isoNow } from '../ids.ts';
import type { AllocBackend, AllocQueueRow, AllocStore } from './types.ts';
import { allocShape } from './shape.ts';

export interface NewQueue {
  manager: string; pool: string; time_ms: number; nodes?: number; backlog?: number; max_allocs?: number; idle_ms?: number; name?: string; sbatch_args?: string[];
}

export const QUEUE_DEFAULTS = { nodes: 1, backlog: 1, max_allocs: 4, idle_ms: 5 * 60_000 } as const;
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

function bad(message: string, path: string): never { throw new DroverError('invalid_request', message, { path }); }

/** The queue row to store (not stored here: the caller inserts it in its transaction), and warnings. */
export async function prepareQueue(store: AllocStore, backend: AllocBackend, serverUrl: string, q: NewQueue): Promise<{ queue: AllocQueueRow; warnings: string[] }> {
  if (q.manager !== 'slurm') bad(`manager '${q.manager}': only 'slurm' is supported`, 'manager');
  if (!NAME.test(q.pool)) bad(`pool '${q.pool}': letters, digits, '.', '_' and '-', at most 64`, 'pool');
  const name = q.name ?? q.pool;
  if (!NAME.test(name)) bad(`name '${name}': letters, digits, '.', '_' and '-', at most 64`, 'name');
  if (!(q.time_ms >= 60_000)) bad('time: at least 1m (Slurm counts time limits in minutes)', 'time');
  const nodes = q.nodes ?? QUEUE_DEFAULTS.nodes, backlog = q.backlog ?? QUEUE_DEFAULTS.backlog;
  const maxAllocs = q.max_allocs ?? QUEUE_DEFAULTS.max_allocs, idle = q.idle_ms ?? QUEUE_DEFAULTS.idle_ms;
  for (const [k, v] of [['nodes', nodes], ['backlog', backlog], ['max_allocs', maxAllocs]] as const) {
    if (!Number.isInteger(v) || v < 1 || v > 10_000) bad(`${k}: a whole number from 1 to 10000`, k);
  }
  if (!(idle >= 1000)) bad('idle: at least 1s', 'idle');
  const args = q.sbatch_args ?? [];
  const refused = backend.checkArgs(args);
  if (refused) bad(refused, 'sbatch_args');
  if (store.queue(name)) throw new DroverError('conflict', `an allocation queue named '${name}' exists already`, { name });
  const slurmSays = await backend.test({ name: `drover-alloc-test`, timeMs: q.time_ms, nodes, args });
  if (slurmSays?.unavailable) throw new DroverError('batch_system_unavailable', `could not check the arguments with Slurm (sbatch --test-only): ${slurmSays.message}; nothing was added, try again`, { slurm: slurmSays.message });
  if (slurmSays) throw new DroverError('invalid_request', `Slurm refused a test allocation with these arguments: ${slurmSays.message}`, { path: 'sbatch_args', slurm: slurmSays.message });
  const warnings = await reachability(backend, serverUrl, args);
  // the node shape bounds what an allocation gets, and so which jobs it can run (sizing.ts misfit)
  const node = await backend.nodeShape(args);
  if (!node) warnings.push('sinfo did not describe the partition\'s nodes: jobs are measured against the CPUs and GPUs the sbatch arguments ask only');
  const shape = allocShape(args, nodes, node);
  const at = isoNow();
  const row: AllocQueueRow = {
    id: newId('q'), name, manager: q.manager, pool: q.pool, time_ms: q.time_ms, nodes, backlog, max_allocs: maxAllocs, idle_ms: idle,
    sbatch_args: JSON.stringify(args), status: 'active', reason: null, failures: 0, backoff_until: null, last_error: null, sbatch_calls: 0,
    created_at: at, updated_at: at, node_cpus: node?.cpus ?? null, node_gpus: node?.gpus ?? null, cpus: shape.cpus, gpus: shape.gpus,
  };
  return { queue: row, warnings };
}

const LOOPBACK = /^(localhost|127\.\d+\.\d+\.\d+|\[?::1\]?)$/i;

/** A loopback server URL is reachable from this host only: say so loudly when the partition has others. */
async function reachability(backend: AllocBackend, serverUrl: string, args: string[]): Promise<string[]> {
  let host: string;
  try { host = new URL(serverUrl).hostname; } catch { return [`the server URL ${serverUrl} does not parse; agents may not reach it`]; }
  if (!LOOPBACK.test(host)) return [];
  const hosts = await backend.hosts(args);
  const me = hostname().split('.')[0]!;
  const others = (hosts ?? []).filter((h) => h.split('.')[0] !== me);
  if (hosts && others.length === 0) return [];
  return [`WARNING: agents reach the server at ${serverUrl}, a loopback address, but ${hosts ? `the partition's nodes include other hosts (${others.slice(0, 5).join(', ')}${others.length > 5 ? ', …' : ''})` : 'the partition\'s nodes are unknown (sinfo did not answer)'}: compute nodes cannot reach this login node's loopback address. Start the server with --host 0.0.0.0 (or the node's address) and --advertise-url http://<login-node>:<port>`];
}
