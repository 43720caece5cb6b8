// Issue 19: a sweep of more runs than EAGER_FOLDERS is answered with only the first folders made; the
// scheduler makes the others (a batch per tick) before any of their jobs starts, `why` names the wait
// (run_folder_pending), a restart finishes them, and every run.json reads as an eager one would.
import { test, expect } from 'bun:test';
import { existsSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { makeHarness, FakeExecutor } from '../helpers/engine-harness.ts';
import { explain } from '../../src/core/scheduler/explain.ts';
import { EAGER_FOLDERS } from '../../src/core/run-folder.ts';
import { FOLDERS_PER_BATCH, FOLDER_RETRY_MS } from '../../src/core/scheduler/run-folders.ts';

const LATER = FOLDERS_PER_BATCH + 50; // two batches' worth
const sweep = (n: number) => ({ name: 'big-sweep', matrix: { i: [...Array(n).keys()] }, params: { p: 'x' }, stages: [{ name: 'main', jobs: [{ name: 'j', commands: ['true'] }] }] });
const runJson = (dir: string) => JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8'));

test('the first runs get their folders at submit, the others from the scheduler, before their jobs start', async () => {
  const h = await makeHarness({ maxParallel: 4, executors: [new FakeExecutor('local', 4)] });
  await Bun.sleep(1); // (the tick that boot's waker queued before it stopped: not one of ours)
  (h.config as { maxSweep: number }).maxSweep = EAGER_FOLDERS + LATER;
  const out = h.submit(sweep(EAGER_FOLDERS + LATER));
  const runs = out.runs as { id: string; dir: string }[];
  expect(runs.length).toBe(EAGER_FOLDERS + LATER);
  const made = () => runs.filter((r) => existsSync(join(r.dir, 'run.json'))).length;
  expect(made()).toBe(EAGER_FOLDERS);
  expect(h.store.pendingFolderRunIds()).toEqual(runs.slice(EAGER_FOLDERS).map((r) => r.id));

  // a job of the last run waits for its folder, and says so
  const lastJob = h.store.jobsOfRun(runs.at(-1)!.id)[0]!;
  const why = explain(h.engine, lastJob);
  expect(why.blocked).toBe(true);
  expect(why.reasons.map((r) => r.code)).toContain('run_folder_pending');
  const firstJob = h.store.jobsOfRun(runs[0]!.id)[0]!;
  expect(explain(h.engine, firstJob).reasons.map((r) => r.code)).not.toContain('run_folder_pending');

  // the folder pump makes a batch at a time, oldest first; no job of a run without its folder ever starts
  const startedWithoutFolder = () => [...h.executors.get('local')!.running.keys()].map((id) => h.store.getJob(id)!).filter((j) => !existsSync(join(h.store.getRun(j.run_id)!.dir, 'run.json')));
  await h.tick();
  expect(startedWithoutFolder()).toEqual([]);
  expect(await h.engine.folders.batch()).toBe(FOLDERS_PER_BATCH);
  expect(made()).toBe(EAGER_FOLDERS + FOLDERS_PER_BATCH);
  await h.tick();
  expect(startedWithoutFolder()).toEqual([]);
  expect(await h.engine.folders.batch()).toBe(LATER - FOLDERS_PER_BATCH);
  expect(made()).toBe(EAGER_FOLDERS + LATER);
  expect(await h.engine.folders.batch()).toBe(0);
  expect(h.store.pendingFolderRunIds()).toEqual([]);
  expect(explain(h.engine, lastJob).reasons.map((r) => r.code)).not.toContain('run_folder_pending');

  // a later run.json is what an eager one would be: same fields, its own id, params and index
  const early = runJson(runs[0]!.dir), late = runJson(runs.at(-1)!.dir);
  expect(Object.keys(late)).toEqual(Object.keys(early));
  expect(late).toEqual({ ...early, id: runs.at(-1)!.id, params: { p: 'x', i: EAGER_FOLDERS + LATER - 1 }, trigger: { ...early.trigger, index: EAGER_FOLDERS + LATER - 1 } });
  expect(late.spec.matrix).toBeUndefined();
  expect(late.spec.matrix_keys).toEqual(['i']);
  h.close();
}, 60_000);

test('a restart finds the folders still to make and makes them; a job claimed first makes its own', async () => {
  const h = await makeHarness({ maxParallel: 1, executors: [new FakeExecutor('local', 1)] });
  (h.config as { maxSweep: number }).maxSweep = EAGER_FOLDERS + LATER;
  const out = h.submit(sweep(EAGER_FOLDERS + LATER));
  const runs = out.runs as { id: string; dir: string }[];
  await h.restart(); // (nothing ticked: every later folder is still to make)
  expect(h.engine.folders.size).toBe(LATER);
  // the engine's start step makes a pending run's folder itself (a remote agent's claim can come first)
  const last = runs.at(-1)!;
  const job = h.store.jobsOfRun(last.id)[0]!;
  h.engine.transact(() => h.engine.startOne(job, new Date(h.clock.now()).toISOString(), h.clock.now(), { token: 't', expiresAt: h.clock.now() + 60_000 }));
  expect(existsSync(join(last.dir, 'run.json'))).toBe(true);
  expect(h.store.getRun(last.id)!.folder_pending).toBe(0);
  while (await h.engine.folders.batch()) await h.tick();
  expect(runs.every((r) => existsSync(join(r.dir, 'run.json')))).toBe(true);
  expect(h.store.pendingFolderRunIds()).toEqual([]);
  expect(h.engine.folders.size).toBe(0);
  h.close();
}, 60_000);

test('a sweep no bigger than the eager part makes every folder at submit and leaves nothing pending', async () => {
  const h = await makeHarness();
  const out = h.submit(sweep(30));
  expect((out.runs as { dir: string }[]).every((r) => existsSync(join(r.dir, 'run.json')))).toBe(true);
  expect(h.store.pendingFolderRunIds()).toEqual([]);
  expect(h.engine.folders.size).toBe(0);
  h.close();
});

test('a batch that cannot be written (disk trouble) leaves its runs pending; the periodic retry makes them once the wait is over', async () => {
  const h = await makeHarness({ maxParallel: 4, executors: [new FakeExecutor('local', 4)] });
  await Bun.sleep(1);
  (h.config as { maxSweep: number }).maxSweep = EAGER_FOLDERS + 10;
  const runs = h.submit(sweep(EAGER_FOLDERS + 10)).runs as { id: string; dir: string }[];
  // (the harness's engine is stopped: its pump does not run by itself, batches are called here)
  const later = runs.slice(EAGER_FOLDERS);
  const blocked = later[0]!;
  writeFileSync(blocked.dir, 'not a folder'); // mkdir of the run's folder fails
  expect(await h.engine.folders.batch()).toBe(0);
  expect(h.engine.folders.isPending(blocked.id)).toBe(true);
  // (others of the batch may have been written meanwhile: they stay pending and are written again)
  expect(h.store.pendingFolderRunIds()).toEqual(later.map((r) => r.id));
  rmSync(blocked.dir);
  const folders = h.engine.folders as unknown as { pump(): Promise<void> };
  let pumps = 0;
  const realPump = folders.pump.bind(folders);
  folders.pump = () => { pumps++; return Promise.resolve(); };
  h.engine.folders.retry(Date.now()); // too early: the wait after a failure is not over
  expect(pumps).toBe(0);
  h.engine.folders.retry(Date.now() + FOLDER_RETRY_MS + 1);
  expect(pumps).toBe(1);
  folders.pump = realPump;
  while (await h.engine.folders.batch()) { /* the pump's loop */ }
  expect(runs.every((r) => existsSync(join(r.dir, 'run.json')))).toBe(true);
  expect(h.store.pendingFolderRunIds()).toEqual([]);
  h.close();
});
