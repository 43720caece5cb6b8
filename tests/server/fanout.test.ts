// Map → reduce in one run: generate → a 3×2 job-level matrix → merge, with no `workspace:`. Files pass
// through the run's shared work dir, the merge job reads every point from $DROVER_NEEDS, a failed point
// fails its stage (or not, with allow_failure), and retry reruns only that point. Real server, real jobs.
import { test, expect, beforeAll, afterAll } from 'bun:test';
import { existsSync, readFileSync, writeFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, waitFor, type TestServer } from '../helpers/server.ts';

let s: TestServer;
beforeAll(async () => { s = await startServer(['--max-parallel', '4', '--max-sweep', '6']); });
afterAll(() => s?.stop());

/** The merge job: checks $DROVER_NEEDS has all 6 points with their outputs, and writes a summary. */
const MERGE = `python3 - <<'PY'
import json, os
doc = json.load(open(os.environ["DROVER_NEEDS"]))
fit = doc["fit"]
ok = [j for j in fit["jobs"] if j["status"] == "succeeded"]
pts = sorted((j["matrix"]["lr"], j["matrix"]["seed"], j["outputs"].get("loss")) for j in fit["jobs"])
open("summary.txt", "w").write(json.dumps({"n": len(fit["jobs"]), "ok": len(ok), "points": pts, "names": sorted(j["name"] for j in fit["jobs"])}))
with open(os.environ["DROVER_OUTPUT"], "a") as f: f.write("points=%d\\n" % len(fit["jobs"]))
PY`;

function pipeline(name: string, opts: { failPoint?: boolean; allowFailure?: boolean; gate?: boolean } = {}) {
  const fit = [
    ...(opts.gate ? ['while [ ! -f go ]; do sleep 0.05; done'] : []),
    'test "$(cat data.txt)" = generated', // written by the generate stage, in the same work dir
    'test "$PWD" = "$DROVER_WORKDIR"',
    'echo "$DROVER_MATRIX_LR $DROVER_MATRIX_SEED" > point-${{ matrix.lr }}-${{ matrix.seed }}.txt',
    ...(opts.failPoint ? ['if [ ${{ matrix.lr }} = 1 ] && [ ${{ matrix.seed }} = 2 ] && [ ! -f fixed ]; then exit 3; fi'] : []),
    'echo loss=${{ matrix.lr }}x${{ matrix.seed }} >> "$DROVER_OUTPUT"',
  ];
  return {
    name,
    stages: [
      { name: 'generate', jobs: [{ name: 'gen', commands: ['echo generated > data.txt', 'echo rows=100 >> "$DROVER_OUTPUT"'] }] },
      { name: 'fit', needs: ['generate'], jobs: [{ name: 'fit', matrix: { lr: [0.1, 0.01, 1], seed: [1, 2] }, commands: fit, ...(opts.allowFailure ? { allow_failure: true } : {}) }] },
      { name: 'merge', needs: ['fit'], jobs: [{ name: 'merge', commands: [MERGE] }] },
    ],
  };
}

const NAMES = ['fit[lr=0.01,seed=1]', 'fit[lr=0.01,seed=2]', 'fit[lr=0.1,seed=1]', 'fit[lr=0.1,seed=2]', 'fit[lr=1,seed=1]', 'fit[lr=1,seed=2]'];

test('generate → 3×2 job matrix → merge in one run: shared work dir, $DROVER_NEEDS with all 6 points, why and graph', async () => {
  const { run } = await s.submit(pipeline('fanout-ok', { gate: true }));
  const fit = run.stages[1].jobs;
  expect(fit.map((j: any) => j.name)).toEqual(['fit[lr=0.1,seed=1]', 'fit[lr=0.1,seed=2]', 'fit[lr=0.01,seed=1]', 'fit[lr=0.01,seed=2]', 'fit[lr=1,seed=1]', 'fit[lr=1,seed=2]']);
  expect(fit[0].matrix).toEqual({ lr: 0.1, seed: 1 });
  const work = join(run.dir, 'work');
  const mergeId = run.stages[2].jobs[0].id;

  // the merge waits for every point; `why` says how far the matrix stage is
  await waitFor(() => existsSync(join(work, 'data.txt')), { what: 'the generate stage' });
  const why = await waitFor(async () => {
    const w = (await s.api('GET', `/jobs/${mergeId}/why`)).body;
    return w.reasons[0]?.progress?.[0]?.status === 'running' && w;
  }, { what: 'fit to be running' });
  expect(why.reasons[0].code).toBe('waiting_for_stage');
  expect(why.reasons[0].message).toContain("'fit' (running, 0 of 6 jobs done)");
  writeFileSync(join(work, 'go'), ''); // the points wait for this file in the shared work dir

  const done = await s.waitRun(run.id);
  expect(done.status).toBe('succeeded');
  expect(done.stages.map((st: any) => st.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
  expect(done.stages[2].outputs).toEqual({ points: '6' });
  const summary = JSON.parse(readFileSync(join(work, 'summary.txt'), 'utf8'));
  expect(summary.n).toBe(6);
  expect(summary.ok).toBe(6);
  expect(summary.names).toEqual(NAMES);
  expect(summary.points).toEqual([[0.01, 1, '0.01x1'], [0.01, 2, '0.01x2'], [0.1, 1, '0.1x1'], [0.1, 2, '0.1x2'], [1, 1, '1x1'], [1, 2, '1x2']]);
  expect(readdirSync(work).filter((f) => f.startsWith('point-')).sort()).toEqual(
    ['point-0.01-1.txt', 'point-0.01-2.txt', 'point-0.1-1.txt', 'point-0.1-2.txt', 'point-1-1.txt', 'point-1-2.txt']);
  expect(readFileSync(join(work, 'point-0.01-2.txt'), 'utf8')).toBe('0.01 2\n');

  // the file itself, as the merge job found it: every job with name, matrix, status, exit code, outputs
  const needs = JSON.parse(readFileSync(join(run.dir, 'jobs', mergeId, 'needs.json'), 'utf8'));
  expect(Object.keys(needs)).toEqual(['fit']);
  expect(needs.fit.status).toBe('succeeded');
  expect(needs.fit.jobs[2]).toMatchObject({ name: 'fit[lr=0.01,seed=1]', matrix: { lr: 0.01, seed: 1 }, status: 'succeeded', exit_code: 0, outputs: { loss: '0.01x1' } });
  // a point's own needs: the generate stage
  const pointNeeds = JSON.parse(readFileSync(join(run.dir, 'jobs', fit[0].id, 'needs.json'), 'utf8'));
  expect(pointNeeds.generate).toMatchObject({ status: 'succeeded', outputs: { rows: '100' }, jobs: [{ name: 'gen', matrix: null, exit_code: 0, outputs: { rows: '100' } }] });
  const genNeeds = JSON.parse(readFileSync(join(run.dir, 'jobs', done.stages[0].jobs[0].id, 'needs.json'), 'utf8'));
  expect(genNeeds).toEqual({});

  // on disk too: result.json names each job's point
  const result = await waitFor(() => existsSync(join(run.dir, 'result.json')) && JSON.parse(readFileSync(join(run.dir, 'result.json'), 'utf8')), { what: 'result.json' });
  expect(result.jobs.find((j: any) => j.name === 'fit[lr=1,seed=2]').matrix).toEqual({ lr: 1, seed: 2 });

  const graph = (await s.api('GET', `/runs/${run.id}/graph?format=json`)).body;
  expect(graph.nodes[1].jobs).toHaveLength(6);
  expect(graph.nodes[1].jobs[4]).toMatchObject({ name: 'fit[lr=1,seed=1]', matrix: { lr: 1, seed: 1 }, status: 'succeeded' });
  expect((await s.api('GET', `/runs/${run.id}/graph?format=dot`)).text).toContain('6 jobs: 6 succeeded');
  expect((await s.api('GET', `/runs/${run.id}/graph?format=mermaid`)).text).toContain('6 jobs: 6 succeeded');
});

test('one failed point fails its stage and skips the merge; retry reruns only that point', async () => {
  const { run } = await s.submit(pipeline('fanout-fail', { failPoint: true }));
  const failed = await s.waitRun(run.id);
  expect(failed.status).toBe('failed');
  expect(failed.stages.map((st: any) => st.status)).toEqual(['succeeded', 'failed', 'skipped']);
  const bad = failed.stages[1].jobs.filter((j: any) => j.status === 'failed');
  expect(bad.map((j: any) => [j.name, j.exit_code])).toEqual([['fit[lr=1,seed=2]', 3]]);
  const mergeWhy = (await s.api('GET', `/jobs/${failed.stages[2].jobs[0].id}`)).body;
  expect(mergeWhy.status).toBe('skipped');

  writeFileSync(join(run.dir, 'work', 'fixed'), '');
  expect((await s.api('POST', `/runs/${run.id}/retry`)).status).toBe(200);
  const done = await s.waitRun(run.id, (x) => x.status === 'succeeded' || (x.status === 'failed' && x.ended_at !== failed.ended_at));
  expect(done.status).toBe('succeeded');
  const attempts = Object.fromEntries(done.stages[1].jobs.map((j: any) => [j.name, j.attempt]));
  expect(attempts).toEqual({ 'fit[lr=0.1,seed=1]': 1, 'fit[lr=0.1,seed=2]': 1, 'fit[lr=0.01,seed=1]': 1, 'fit[lr=0.01,seed=2]': 1, 'fit[lr=1,seed=1]': 1, 'fit[lr=1,seed=2]': 2 });
  expect(done.stages[0].jobs[0].attempt).toBe(1); // generate kept
  const summary = JSON.parse(readFileSync(join(run.dir, 'work', 'summary.txt'), 'utf8'));
  expect(summary.ok).toBe(6);
});

test('with allow_failure a failed point does not fail the stage; the merge sees it failed in $DROVER_NEEDS', async () => {
  const { run } = await s.submit(pipeline('fanout-allowed', { failPoint: true, allowFailure: true }));
  const done = await s.waitRun(run.id);
  expect(done.status).toBe('succeeded');
  expect(done.stages.map((st: any) => st.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
  const point = done.stages[1].jobs.find((j: any) => j.name === 'fit[lr=1,seed=2]');
  expect(point).toMatchObject({ status: 'failed', exit_code: 3, allow_failure: true });
  const needs = JSON.parse(readFileSync(join(run.dir, 'jobs', done.stages[2].jobs[0].id, 'needs.json'), 'utf8'));
  expect(needs.fit.jobs.find((j: any) => j.name === 'fit[lr=1,seed=2]')).toMatchObject({ status: 'failed', exit_code: 3, matrix: { lr: 1, seed: 2 } });
  const summary = JSON.parse(readFileSync(join(run.dir, 'work', 'summary.txt'), 'utf8'));
  expect([summary.n, summary.ok]).toEqual([6, 5]);
});

test('dry-run counts the points; --max-sweep bounds runs × points; a pipeline matrix gives each run its own work dir', async () => {
  const dry = await s.api('POST', '/runs?dry_run=true', { spec: pipeline('fanout-dry') });
  expect(dry.status).toBe(200);
  expect(dry.body.jobs).toBe(8);
  expect(dry.body.jobs_per_run[1].jobs).toEqual([{ name: 'fit', executor: 'local', resources: { fallback: 'cpu' }, points: 6, matrix: { lr: [0.1, 0.01, 1], seed: [1, 2] } }]);

  const tooMany = await s.api('POST', '/runs', { spec: { ...pipeline('fanout-big'), stages: [{ name: 'a', jobs: [{ name: 'p', matrix: { x: [1, 2, 3, 4, 5, 6, 7] }, commands: ['true'] }] }] } });
  expect(tooMany.status).toBe(400);
  expect(tooMany.body.error.code).toBe('too_many_runs');
  expect(tooMany.body.error.message).toContain('7 jobs');

  const both = (k: number[]) => ({ name: 'fanout-both', matrix: { k }, stages: [{ name: 'a', jobs: [{ name: 'p', matrix: { x: [1, 2, 3] }, commands: ['echo ${{ params.k }}-${{ matrix.x }} > out-${{ matrix.x }}.txt'] }] }] });
  const refused = await s.api('POST', '/runs', { spec: both([1, 2, 3]) });
  expect(refused.status).toBe(400);
  expect(refused.body.error.message).toContain('3 runs x 3 matrix jobs = 9');

  const { group, runs } = await s.submit(both([1, 2]));
  expect(runs).toHaveLength(2);
  await s.waitGroup(group.id);
  for (const r of runs) {
    const run = (await s.api('GET', `/runs/${r.id}`)).body;
    expect(run.status).toBe('succeeded');
    expect(run.stages[0].jobs.map((j: any) => j.matrix)).toEqual([{ x: 1 }, { x: 2 }, { x: 3 }]);
    const k = run.params.k;
    expect([1, 2, 3].map((x) => readFileSync(join(r.dir, 'work', `out-${x}.txt`), 'utf8'))).toEqual([`${k}-1\n`, `${k}-2\n`, `${k}-3\n`]);
  }
}, 30_000);

test('a matrix reference must name an axis of its own job (400 at submit, nothing written)', async () => {
  const bad = await s.api('POST', '/runs', { spec: { name: 'fanout-bad', stages: [{ name: 'a', jobs: [{ name: 'p', matrix: { x: [1] }, commands: ['echo ${{ matrix.y }}'] }] }] } });
  expect(bad.status).toBe(400);
  expect(bad.body.error.message).toContain("stages[0].jobs[0].commands[0]: ${{ matrix.y }} names no matrix axis 'y' (this job's matrix has: x)");
  const none = await s.api('POST', '/runs', { spec: { name: 'fanout-bad', stages: [{ name: 'a', jobs: [{ name: 'p', commands: ['echo ${{ matrix.x }}'] }] }] } });
  expect(none.status).toBe(400);
  expect(none.body.error.message).toContain('this job has no matrix');
  expect((await s.api('GET', '/runs?pipeline=fanout-bad')).body.items).toEqual([]);
});

test('cancel stops every running point of the matrix, and cancel of one point cancels its stage', async () => {
  const { run } = await s.submit(pipeline('fanout-cancel', { gate: true }));
  const points = () => s.api('GET', `/runs/${run.id}`).then((r) => r.body.stages[1].jobs as any[]);
  await waitFor(async () => (await points()).filter((j) => j.status === 'running').length === 4, { what: '4 points running (max-parallel 4)' });
  const one = (await points()).find((j) => j.status === 'running');
  expect((await s.api('POST', `/jobs/${one.id}/cancel`)).status).toBe(200);
  await waitFor(async () => (await points()).find((j) => j.id === one.id).status === 'canceled', { what: 'the point to be canceled' });
  expect((await s.api('POST', `/runs/${run.id}/cancel`)).status).toBe(200);
  const done = await s.waitRun(run.id);
  expect(done.status).toBe('canceled');
  expect(done.stages[1].status).toBe('canceled');
  expect(done.stages[1].jobs.every((j: any) => j.status === 'canceled')).toBe(true);
  expect(done.stages[2].jobs[0].status).not.toBe('succeeded');
});

test('examples/map-reduce.yaml runs as the README says: 6 points, the merge names the best', async () => {
  const spec = Bun.YAML.parse(readFileSync(join(import.meta.dir, '../../examples/map-reduce.yaml'), 'utf8')) as object;
  const { run } = await s.submit(spec);
  const done = await s.waitRun(run.id);
  expect(done.status).toBe('succeeded');
  expect(done.stages[1].jobs).toHaveLength(6);
  expect(done.stages[2].outputs).toEqual({ best: 'fit[lr=0.001,seed=1]', points: '6' });
  const log = await s.api('GET', `/jobs/${done.stages[2].jobs[0].id}/logs`);
  expect(log.text).toBe('6 points; best fit[lr=0.001,seed=1] (loss 0.5105)\n');
});
