// Issue 19: a submit's answer is built in JSON parts a row at a time (and streamed); its text must be
// exactly JSON.stringify of the object answer — for runs of several stages and job matrices, in every
// state a run goes through (queued, running, ended with outputs and commands), and for sweeps.
import { test, expect } from 'bun:test';
import { makeHarness } from '../helpers/engine-harness.ts';
import * as control from '../../src/core/scheduler/control.ts';
import { JsonParts } from '../../src/core/json-parts.ts';
import { runView, runViewJson, runSummary, runSummariesJson } from '../../src/core/views.ts';

const spec = {
  name: 'parts', params: { who: 'wörld "quoted" \u2028' },
  stages: [
    { name: 'a', jobs: [{ name: 'x', commands: ['true', 'echo ${{ params.who }}'] }, { name: 'fit', matrix: { lr: [0.1, 0.01], seed: [1, 2, 3] }, commands: ['true'] }] },
    { name: 'b', needs: ['a'], jobs: [{ name: 'y', commands: ['true'] }] },
    { name: 'c', jobs: [] as object[] },
  ],
};

function parts(fill: (out: JsonParts) => void): string {
  const out = new JsonParts();
  fill(out);
  return out.end().text();
}

test('a run in parts is the run view, in every state it goes through', async () => {
  const h = await makeHarness({ maxParallel: 3 });
  await Bun.sleep(1);
  const noJobs = { ...spec, stages: spec.stages.filter((s) => s.name !== 'c') };
  const { run } = h.submit(noJobs);
  const same = () => {
    const row = h.store.getRun(run.id)!;
    expect(parts((o) => runViewJson(h.engine, row, o))).toBe(JSON.stringify(runView(h.engine, row)));
  };
  same();
  for (let i = 0; i < 12; i++) {
    await h.tick();
    same();
    const local = h.executors.get('local')!;
    const first = [...local.running.keys()][0];
    if (first) local.finish(first, i % 4 === 3 ? 1 : 0);
  }
  h.close();
});

test('a submit answered in parts says what the object answer says (a run, a sweep of more runs than one part holds)', async () => {
  const h = await makeHarness();
  await Bun.sleep(1);
  (h.config as { maxSweep: number }).maxSweep = 5000;
  const one = control.submit(h.engine, { spec: { ...spec, stages: spec.stages.slice(0, 2) } }, { parts: true }).body as JsonParts;
  expect(one.parts.length).toBe(1);
  const runId = (one.about.run as { id: string }).id;
  expect(one.text()).toBe(JSON.stringify({ run: runView(h.engine, h.store.getRun(runId)!) }));

  const sweep = control.submit(h.engine, { spec: { name: 'sweep', matrix: { i: [...Array(3000).keys()], s: ['a'] }, stages: [{ name: 'm', jobs: [{ name: 'j', commands: ['true'] }] }] } }, { parts: true }).body as JsonParts;
  expect(sweep.parts.length).toBeGreaterThan(1);
  const answer = JSON.parse(sweep.text());
  const groupId = (sweep.about.group as { id: string }).id;
  expect(answer.group.id).toBe(groupId);
  expect(answer.runs.length).toBe(3000);
  expect(JSON.stringify(answer.runs)).toBe(JSON.stringify(h.store.runsOfGroup(groupId).map(runSummary)));
  expect(parts((o) => runSummariesJson(h.store, groupId, o))).toBe(JSON.stringify(h.store.runsOfGroup(groupId).map(runSummary)));
  h.close();
});

test('pieces of any size join into the same text', () => {
  const out = new JsonParts();
  const pieces: string[] = [];
  let seed = 5;
  for (let i = 0; i < 3000; i++) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    pieces.push('x'.repeat(seed % 300) + i);
  }
  for (const p of pieces) out.push(p);
  out.push('');
  expect(out.end().text()).toBe(pieces.join(''));
  expect(out.parts.every((p) => p.length > 0)).toBe(true);
});

test('result.json written a job at a time is JSON.stringify of the result object (stages, a job matrix, as the run goes and once it ended), and the digest signed is the text written', async () => {
  const { runResult, runResultText, writeRunResult } = await import('../../src/core/scheduler/result.ts');
  const { readFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { createHash } = await import('node:crypto');
  const h = await makeHarness({ maxParallel: 3 });
  await Bun.sleep(1);
  const { run } = h.submit({ ...spec, stages: spec.stages.slice(0, 2) });
  const same = () => {
    const row = h.store.getRun(run.id)!;
    expect([...runResultText(h.engine, row)].join('')).toBe(JSON.stringify(runResult(h.engine, row), null, 2) + '\n');
  };
  same();
  for (let i = 0; i < 12; i++) {
    await h.tick();
    const local = h.executors.get('local')!;
    const first = [...local.running.keys()][0];
    if (first) local.finish(first, 0);
    same();
  }
  const quiet = { info() {}, warn(m: string, f: object) { throw new Error(`${m} ${JSON.stringify(f)}`); }, error() {}, scope() { return quiet; } };
  let signed = '';
  writeRunResult(h.engine, run.id, quiet as never, undefined, (_r, sha) => { signed = sha; });
  const text = readFileSync(join(run.dir, 'result.json'), 'utf8');
  expect(text).toBe(JSON.stringify(runResult(h.engine, h.store.getRun(run.id)!), null, 2) + '\n');
  expect(signed).toBe(createHash('sha256').update(text).digest('hex'));
  h.close();
});
