// The `status` channel: every status change of a run, its stages, jobs and group, in commit order,
// the same objects as GET /api/v1/events; optionally for one run, and replayed from a seq.
import { test, expect, beforeAll, afterAll } from 'bun:test';
import { startServer, type TestServer } from '../helpers/server.ts';
import { WsClient } from './helpers.ts';

let s: TestServer;
beforeAll(async () => { s = await startServer(['--max-parallel', '4']); });
afterAll(async () => { await s?.stop(); });

const twoStages = (name: string) => ({
  name, workspace: s.root,
  stages: [
    { name: 'build', jobs: [{ name: 'compile', commands: ['sleep 0.2; echo built'] }] },
    { name: 'test', needs: ['build'], jobs: [{ name: 'unit', commands: ['echo unit'] }, { name: 'lint', commands: ['echo lint'] }] },
  ],
});
const seqNow = async () => { const c = await WsClient.open(s); c.send({ op: 'subscribe', channel: 'status' }); const a = await c.waitFor((m) => m.type === 'subscribed'); c.close(); return a.seq as number; };
const byId = (evs: any[], id: string) => evs.filter((e) => e.id === id).map((e) => e.status);

test('status messages arrive for every transition of a run, its stages and jobs, and match GET /events', async () => {
  const c = await WsClient.open(s);
  c.send({ op: 'subscribe', channel: 'status' });
  const ack = await c.waitFor((m) => m.type === 'subscribed', { what: 'the ack' });
  const out = await s.submit(twoStages('ws-status'));
  const run = out.run;
  await c.waitFor((m) => m.type === 'status' && m.kind === 'run' && m.id === run.id && m.status === 'succeeded', { what: 'the run to succeed' });
  await c.waitFor((m) => m.type === 'status' && m.kind === 'group' && m.status === 'succeeded', { what: 'the group to succeed' });
  const evs = c.msgs.filter((m) => m.type === 'status');
  expect(byId(evs, run.id)).toEqual(['queued', 'running', 'succeeded']);
  const [build, tst] = run.stages;
  expect(byId(evs, build.id)).toEqual(['running', 'succeeded']);
  expect(byId(evs, tst.id)).toEqual(['running', 'succeeded']);
  expect(byId(evs, build.jobs[0].id)).toEqual(['running', 'succeeded']);
  for (const j of tst.jobs) expect(byId(evs, j.id)).toEqual(['queued', 'running', 'succeeded']); // pending → queued once build is done
  expect(byId(evs, run.group_id)).toEqual(['running', 'succeeded']);
  for (const e of evs) expect(e.run_id === run.id || (e.kind === 'group' && e.run_id === null)).toBe(true);
  // in order, no gaps, and the same objects the HTTP API keeps
  const seqs = evs.map((e) => e.seq);
  expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
  const http = (await s.api('GET', `/events?since=${ack.seq}&limit=1000`)).body.items;
  expect(evs).toEqual(http.slice(0, evs.length));
  c.close();
}, 30_000);

test('a run filter sends only that run (and its group); `since` replays what was missed', async () => {
  const before = await seqNow();
  const a = await s.submit(twoStages('ws-status-a'));
  const b = await s.submit(twoStages('ws-status-b'));
  await s.waitRun(a.run.id); await s.waitRun(b.run.id);
  const c = await WsClient.open(s);
  c.send({ op: 'subscribe', channel: 'status', run: a.run.id, since: before });
  await c.waitFor((m) => m.type === 'status' && m.kind === 'group' && m.status === 'succeeded', { what: 'the replayed group end' });
  const evs = c.msgs.filter((m) => m.type === 'status');
  expect(evs.every((e) => e.run_id === a.run.id || e.id === a.run.group_id)).toBe(true);
  expect(byId(evs, a.run.id)).toEqual(['queued', 'running', 'succeeded']);
  const http = (await s.api('GET', `/events?since=${before}&limit=1000`)).body.items;
  expect(evs).toEqual(http.filter((e: any) => e.run_id === a.run.id || e.id === a.run.group_id));
  expect(evs.length).toBe(17); // run 3 + stages 2+2 + jobs 2+3+3 + group 2
  c.close();
}, 30_000);
