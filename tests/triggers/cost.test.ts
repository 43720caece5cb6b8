// Cost: every finished attempt records CPU-seconds (user + sys of the job's processes, from the
// runner's `times`), wall seconds and GPU-seconds; runs, groups and pipelines (per trigger) show the
// sums, and `drover status` / `drover pipelines` print them.
import { test, expect, beforeAll, afterAll } from 'bun:test';
import { startServer, DROVER_CMD, type TestServer } from '../helpers/server.ts';
import { register } from './helpers.ts';
import { readCpuTimes } from '../../src/runner/meta.ts';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

let s: TestServer;
beforeAll(async () => { s = await startServer(['--max-parallel', '4']); });
afterAll(() => s?.stop());

const BUSY = 'i=0; while [ $i -lt 150000 ]; do i=$((i+1)); done';
const drover = (...args: string[]) => {
  const p = Bun.spawnSync([...DROVER_CMD, ...args], { cwd: s.root, env: { ...process.env, DROVER_DATA_DIR: s.dataDir } });
  return { code: p.exitCode, out: p.stdout.toString(), err: p.stderr.toString() };
};

test('a run records cpu, wall and gpu seconds of its jobs; the group and the pipeline (per trigger) sum them', async () => {
  const spec = {
    name: 'costly', on: { topic: 'costly' },
    stages: [{ name: 'a', jobs: [{ name: 'busy', commands: [BUSY, 'sleep 1'] }, { name: 'idle', commands: ['sleep 0.5'] }] }],
  };
  await register(s, spec);
  const { run } = (await s.api('POST', '/runs', { pipeline: 'costly' })).body;
  const done = await s.waitRun(run.id);
  expect(done.status).toBe('succeeded');
  expect(done.cost.attempts).toBe(2);
  expect(done.cost.cpu_seconds).toBeGreaterThan(0); // the busy loop
  expect(done.cost.cpu_seconds).toBeLessThan(done.cost.wall_seconds * 4);
  expect(done.cost.wall_seconds).toBeGreaterThanOrEqual(1.5); // 1 s + 0.5 s of sleep
  expect(done.cost.gpu_seconds).toBe(0);
  const group = (await s.api('GET', `/groups/${done.group_id}`)).body;
  expect(group.cost).toEqual(done.cost);

  const ev = (await s.api('POST', '/topics/costly/events', { payload: {} })).body;
  const byEvent = await s.waitRun(ev.runs[0].id);
  const p = (await s.api('GET', '/pipelines/costly')).body;
  expect(Object.keys(p.cost.by_trigger).sort()).toEqual(['api', 'event']);
  expect(p.cost.by_trigger.api).toEqual(done.cost);
  expect(p.cost.by_trigger.event).toEqual(byEvent.cost);
  expect(p.cost.total.attempts).toBe(4);
  expect(p.cost.total.wall_seconds).toBeCloseTo(done.cost.wall_seconds + byEvent.cost.wall_seconds, 2);

  const st = drover('status', run.id);
  expect(st.code).toBe(0);
  expect(st.out).toMatch(/cost +cpu [\d.]+s +wall [\d.]+s +gpu 0s/);
  const shown = drover('pipelines', 'costly');
  expect(shown.code).toBe(0);
  expect(shown.out).toContain('on        topic costly');
  expect(shown.out).toMatch(/event +cpu /);
  expect(JSON.parse(drover('pipelines', 'costly', '--json').out).cost.total.attempts).toBe(4);
  expect(drover('pipelines').out).toContain('costly');
}, 60_000);

test('a sweep group sums its runs; a retried job counts each attempt', async () => {
  const spec = {
    name: 'sweep-cost', matrix: { n: [1, 2] },
    stages: [{ name: 'a', jobs: [{ name: 'j', retries: { max: 1, backoff: '10ms' }, commands: ['sleep 0.3; [ -e retried ] || { touch retried; exit 1; }'] }] }],
  };
  const r = await s.api('POST', '/runs', { spec });
  expect(r.status).toBe(201);
  const g = await s.waitGroup(r.body.group.id);
  expect(g.status).toBe('succeeded');
  const runs = await Promise.all(r.body.runs.map((x: any) => s.api('GET', `/runs/${x.id}`).then((y) => y.body)));
  const sum = runs.reduce((a, x) => a + x.cost.attempts, 0);
  expect(sum).toBe(g.cost.attempts);
  expect(sum).toBe(4); // each run's job failed once, then succeeded
  for (const x of runs) expect(x.cost.wall_seconds).toBeGreaterThanOrEqual(0.6);
  expect(g.cost.wall_seconds).toBeCloseTo(runs[0].cost.wall_seconds + runs[1].cost.wall_seconds, 2);
}, 60_000);

test('the runner\'s times line is read back, in either decimal notation', () => {
  const dir = mkdtempSync(join(tmpdir(), 'drover-times-'));
  writeFileSync(join(dir, 'job.out'), '__DROVER_PID=1\n__DROVER_TIMES 0m0.010s 0m0.002s\n1m2.500s 0m0,250s\n__DROVER_RC=0\n');
  expect(readCpuTimes(dir)).toEqual({ user: 0.01, sys: 0.002, children_user: 62.5, children_sys: 0.25 });
  writeFileSync(join(dir, 'job.out'), '__DROVER_PID=1\n');
  expect(readCpuTimes(dir)).toBeNull();
});
