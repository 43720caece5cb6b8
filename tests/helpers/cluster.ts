// The Slurm test cluster's environment for a test process whose shell did not source it:
// SLURM_CONF and friends from $DROVER_CLUSTER_DIR/env.sh (written by tests/cluster/start.sh).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export function loadClusterEnv(): void {
  if (process.env.SLURM_CONF) return;
  const file = join(process.env.DROVER_CLUSTER_DIR ?? '/tmp/drover-test-cluster', 'env.sh');
  if (!existsSync(file)) return;
  for (const m of readFileSync(file, 'utf8').matchAll(/^export ([A-Z_]+)=(?:'([^']*)'|"([^"]*)"|(\S*))$/gm)) process.env[m[1]!] = m[2] ?? m[3] ?? m[4] ?? '';
}

/** The environment a test server needs to reach the cluster, with the real Slurm clients first on PATH
 *  (other test files put fakes there); null when no cluster is known. */
export function clusterServerEnv(): Record<string, string> | null {
  loadClusterEnv();
  if (!process.env.SLURM_CONF) return null;
  const env: Record<string, string> = { PATH: `/usr/local/bin:/usr/bin:/bin:${process.env.PATH ?? ''}`, SLURM_CONF: process.env.SLURM_CONF };
  for (const k of ['DROVER_CLUSTER_DIR', 'DROVER_CLUSTER_NODE']) if (process.env[k]) env[k] = process.env[k]!;
  return env;
}
