// Fan-in on the REAL Slurm test cluster (tests/cluster/start.sh, which `npm test` runs): a job-level matrix submitted to
// Slurm, then a merge job (also on Slurm) that reads every point from $DROVER_NEEDS, all in the run's
// shared work dir. DROVER_TEST_SKIP_SLURM=1 skips it on purpose; without a cluster it fails, loudly.
import { test, expect, afterAll } from 'bun:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { clusterServerEnv } from '../helpers/cluster.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

const SKIP = process.env.DROVER_TEST_SKIP_SLURM === '1';
if (SKIP) console.warn('[slurm-fanout.test] DROVER_TEST_SKIP_SLURM=1: skipped ON PURPOSE');

let s: TestServer | undefined;
afterAll(() => s?.stop());

(SKIP ? test.skip : test)('Slurm: a job matrix, then a merge that finds every point in $DROVER_NEEDS', async () => {
  const cluster = clusterServerEnv();
  if (!cluster) throw new Error('no Slurm test cluster: `npm test` starts one (tests/cluster/start.sh), or set DROVER_TEST_SKIP_SLURM=1 to skip on purpose');
  s = await startServer(['--max-parallel', '2'], { env: { ...cluster, DROVER_SLURM_POLL_MIN_MS: '200', DROVER_SLURM_POLL_MAX_MS: '1000' } });
  const slurm = (name: string, commands: string[], extra: object = {}) => ({ name, executor: 'slurm', commands, resources: { cpus: 1, mem: '64M', time: '5m' }, ...extra });
  const { run } = await s.submit({
    name: 'slurm-fanout',
    stages: [
      { name: 'fit', jobs: [slurm('fit', ['echo ${{ matrix.k }} > "k-$DROVER_MATRIX_K.txt"', 'echo v=${{ matrix.k }} >> "$DROVER_OUTPUT"'], { matrix: { k: [1, 2, 3] } })] },
      { name: 'merge', needs: ['fit'], jobs: [slurm('merge', ['cp "$DROVER_NEEDS" needs-seen.json', 'echo files=$(cat k-*.txt | tr "\\n" " ") >> "$DROVER_OUTPUT"'])] },
    ],
  });
  const done = await s.waitRun(run.id, undefined, 240_000);
  expect(done.status).toBe('succeeded');
  expect(done.stages[1].jobs[0].outputs).toEqual({ files: '1 2 3' });
  const needs = JSON.parse(readFileSync(join(run.dir, 'work', 'needs-seen.json'), 'utf8'));
  expect(needs.fit.jobs.map((j: any) => [j.name, j.matrix, j.status, j.exit_code, j.outputs])).toEqual([
    ['fit[k=1]', { k: 1 }, 'succeeded', 0, { v: '1' }],
    ['fit[k=2]', { k: 2 }, 'succeeded', 0, { v: '2' }],
    ['fit[k=3]', { k: 3 }, 'succeeded', 0, { v: '3' }],
  ]);
}, 300_000);
