// The runs list the web page pages through: filters (status, pipeline, trigger, group), cursor paging,
// and collapse=group (one row per group: its newest matching run, carrying the group and its counts).
import { test, expect, beforeAll, afterAll } from 'bun:test';
import { startServer, oneStage, type TestServer } from '../helpers/server.ts';

let s: TestServer;
let sweep: { group: { id: string }; runs: { id: string }[] };
const singles: string[] = [];
beforeAll(async () => {
  s = await startServer(['--max-parallel', '4']);
  singles.push((await s.submit(oneStage('list-one', ['true']))).run.id);
  sweep = await s.submit({ ...oneStage('list-sweep', ['[ ${{ params.i }} != 3 ] || exit 3']), matrix: { i: [1, 2, 3, 4, 5] } });
  singles.push((await s.submit(oneStage('list-two', ['true']))).run.id);
  await s.waitGroup(sweep.group.id);
  for (const id of singles) await s.waitRun(id);
});
afterAll(() => s?.stop());

const ids = (body: any) => body.items.map((r: any) => r.id);

test('collapse=group shows a sweep as one row (its newest run) with the group and its counts', async () => {
  const all = await s.api('GET', '/runs');
  expect(all.body.items.length).toBe(7);
  const c = await s.api('GET', '/runs?collapse=group');
  expect(c.status).toBe(200);
  expect(ids(c.body)).toEqual([singles[1], sweep.runs[4]!.id, singles[0]]);
  const g = c.body.items[1].group;
  expect(g.id).toBe(sweep.group.id);
  expect(g.total).toBe(5);
  expect(g.counts).toEqual({ queued: 0, running: 0, succeeded: 4, failed: 1, canceled: 0 });
  expect(c.body.items[0].group).toBeUndefined(); // a run alone in its group is just a run
  // a status filter collapses onto the newest run with that status
  const failed = await s.api('GET', '/runs?collapse=group&status=failed');
  expect(ids(failed.body)).toEqual([sweep.runs[2]!.id]);
});

test('trigger and pipeline filters; cursor paging of the collapsed list; bad values are 400s naming the parameter', async () => {
  expect(ids((await s.api('GET', '/runs?trigger=sweep')).body).sort()).toEqual(sweep.runs.map((r) => r.id).sort());
  expect(ids((await s.api('GET', '/runs?trigger=api&pipeline=list-two')).body)).toEqual([singles[1]]);
  const p1 = await s.api('GET', '/runs?collapse=group&limit=2');
  expect(p1.body.items.length).toBe(2);
  expect(p1.body.next_cursor).not.toBeNull();
  const p2 = await s.api('GET', `/runs?collapse=group&limit=2&cursor=${p1.body.next_cursor}`);
  expect(ids(p2.body)).toEqual([singles[0]]);
  expect(p2.body.next_cursor).toBeNull();
  for (const [q, name] of [['trigger=cron', 'trigger'], ['collapse=yes', 'collapse'], ['status=done', 'status']]) {
    const r = await s.api('GET', `/runs?${q}`);
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('invalid_request');
    expect(r.body.error.message).toContain(name);
  }
});
