// `concurrency: N` in a spec: at most N runs of the pipeline at once, whatever submitted them; a held
// run's job says why (pipeline_concurrency).
import { test, expect, afterAll } from 'bun:test';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, waitFor, type TestServer } from '../helpers/server.ts';
import { stamped, readStamps, maxOverlap } from '../e2e/gauntlet-helpers.ts';

let s: TestServer;
afterAll(() => s?.stop());

test('concurrency: 1 holds the other runs of the pipeline while one runs, with a why', async () => {
  s = await startServer(['--max-parallel', '4']);
  const ws = join(s.root, 'ws-conc');
  mkdirSync(ws);
  const stamps = join(ws, 'stamps.log');
  const spec = (i: number) => ({ name: 'one-at-a-time', workspace: ws, concurrency: 1, params: { i }, stages: [{ name: 'a', jobs: [{ name: 'j', commands: [stamped(stamps, 'sleep 0.4')] }] }] });
  // three separate submissions (three groups) racing for the same pipeline
  const runs = await Promise.all([1, 2, 3].map((i) => s.submit(spec(i)).then((b) => b.run.id)));
  const held = await waitFor(async () => {
    for (const id of runs) {
      const r = (await s.api('GET', `/runs/${id}`)).body;
      if (r.status !== 'queued') continue;
      const why = (await s.api('GET', `/jobs/${r.stages[0].jobs[0].id}/why`)).body;
      if (why.reasons.some((x: any) => x.code === 'pipeline_concurrency')) return why;
    }
    return null;
  }, { what: 'a held run explained by pipeline_concurrency' });
  expect(held.blocked).toBe(true);
  for (const id of runs) expect((await s.waitRun(id)).status).toBe('succeeded');
  const intervals = readStamps(stamps);
  expect(intervals.size).toBe(3);
  expect(maxOverlap(intervals.values())).toBe(1);
});
