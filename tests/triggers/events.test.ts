// Topic events against a real server: one run per event and subscriber with the payload as params,
// dedupe, failure back to pending until retries run out, budgets, `concurrency: 1` under two
// simultaneous publishes, and exactly-once consumption across a kill -9 of the server.
import { test, expect, afterAll } from 'bun:test';
import { Database } from 'bun:sqlite';
import { mkdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, waitFor, type TestServer } from '../helpers/server.ts';
import { stamped, readStamps, maxOverlap } from '../e2e/gauntlet-helpers.ts';
import { register, runsOf, restart } from './helpers.ts';

const servers: TestServer[] = [];
afterAll(async () => { for (const s of servers) await s.stop(); });
async function server() { const s = await startServer(['--max-parallel', '8']); servers.push(s); return s; }

const spec = (name: string, topic: string, cmd: string, extra: object = {}) =>
  ({ name, on: { topic }, stages: [{ name: 'a', jobs: [{ name: 'j', commands: [cmd] }] }], ...extra });

async function publish(s: TestServer, topic: string, body: object) {
  const r = await s.api('POST', `/topics/${topic}/events`, body);
  if (r.status !== 201 && r.status !== 200) throw new Error(`publish: ${r.status} ${r.text}`);
  return r;
}
const event = async (s: TestServer, topic: string, id: string) => (await s.api('GET', `/topics/${topic}/events/${id}`)).body;
const waitEvent = (s: TestServer, topic: string, id: string, pred: (e: any) => boolean, what: string) =>
  waitFor(async () => { const e = await event(s, topic, id); return pred(e) && e; }, { what, timeoutMs: 30_000 });

test('each event makes one run per subscribing pipeline, with the payload as params; a repeated dedupe_key is a no-op', async () => {
  const s = await server();
  const ws = join(s.root, 'ws-ingest');
  mkdirSync(ws);
  await register(s, spec('ingest', 'new-data', `echo "$DROVER_PARAM_FILE" >> seen`, { workspace: ws }));
  await register(s, spec('audit', 'new-data', 'echo audit ${{ params.file }}'));
  const ids: string[] = [];
  for (const file of ['a', 'b', 'c']) {
    const r = await publish(s, 'new-data', { payload: { file } });
    expect(r.status).toBe(201);
    expect(r.body.event.status).toBe('reserved');
    expect(r.body.runs).toHaveLength(2);
    for (const run of r.body.runs) {
      expect(run.params.file).toBe(file);
      expect(run.trigger).toMatchObject({ kind: 'event', event_id: r.body.event.id, topic: 'new-data' });
    }
    ids.push(r.body.event.id);
  }
  for (const id of ids) await waitEvent(s, 'new-data', id, (e) => e.status === 'consumed', `event ${id} consumed`);

  const first = await publish(s, 'new-data', { payload: { file: 'd' }, dedupe_key: 'batch-7' });
  expect(first.status).toBe(201);
  const again = await publish(s, 'new-data', { payload: { file: 'zzz' }, dedupe_key: 'batch-7' });
  expect(again.status).toBe(200);
  expect(again.body.event.id).toBe(first.body.event.id);
  expect(again.body.event.payload).toEqual({ file: 'd' });
  expect(again.body.runs.map((r: any) => r.id).sort()).toEqual(first.body.runs.map((r: any) => r.id).sort());
  await waitEvent(s, 'new-data', first.body.event.id, (e) => e.status === 'consumed', 'the deduped event consumed');

  const runs = await runsOf(s, 'ingest');
  expect(runs).toHaveLength(4);
  expect(runs.every((r) => r.status === 'succeeded')).toBe(true);
  expect(readFileSync(join(ws, 'seen'), 'utf8').split('\n').filter(Boolean).sort()).toEqual(['a', 'b', 'c', 'd']);
  expect(await runsOf(s, 'audit')).toHaveLength(4);
  const shown = (await s.api('GET', '/pipelines/ingest')).body;
  expect(shown.on).toMatchObject({ topic: 'new-data', events: { consumed: 4 } });

  const list = (await s.api('GET', '/topics/new-data/events?limit=2')).body;
  expect(list.items).toHaveLength(2);
  expect(list.next_cursor).not.toBeNull();
  const nobody = await publish(s, 'nobody-listens', { payload: {} });
  expect(nobody.body).toMatchObject({ event: { status: 'unrouted', deliveries: [] }, runs: [] });
  expect((await s.api('POST', '/topics/new-data/events', { payload: [1, 2] })).status).toBe(400);
  expect((await s.api('POST', '/topics/new-data/events', { payload: {}, extra: 1 })).status).toBe(400);
  expect((await s.api('POST', '/topics/bad topic!/events', { payload: {} })).status).toBe(400);
}, 60_000);

test('a failed run returns the event to pending until the pipeline\'s retries run out', async () => {
  const s = await server();
  const ws = join(s.root, 'ws-flaky');
  mkdirSync(ws);
  // retries.max 1 at the top: one extra run per event; the job itself is not retried (its own retries)
  const retries = { max: 1, backoff: '1500ms' };
  const jobRetries = { max: 0 };
  await register(s, { name: 'always-fails', on: { topic: 'fails' }, retries, stages: [{ name: 'a', jobs: [{ name: 'j', retries: jobRetries, commands: ['exit 3'] }] }] });
  await register(s, { name: 'fails-once', on: { topic: 'once' }, workspace: ws, retries, stages: [{ name: 'a', jobs: [{ name: 'j', retries: jobRetries, commands: ['echo x >> tries; [ $(wc -l < tries) -ge 2 ]'] }] }] });

  const bad = (await publish(s, 'fails', { payload: { n: 1 } })).body.event.id;
  const back = await waitEvent(s, 'fails', bad, (e) => e.status === 'pending' && e.deliveries[0].runs === 1, 'the event back to pending after the first run failed');
  expect(back.deliveries[0]).toMatchObject({ status: 'pending', reason: 'run_failed' });
  const failed = await waitEvent(s, 'fails', bad, (e) => e.status === 'failed', 'the event failed');
  expect(failed.deliveries[0]).toMatchObject({ runs: 2, reason: 'retries_exhausted' });
  expect(failed.run_ids).toHaveLength(2);
  const runs = await runsOf(s, 'always-fails');
  expect(runs.map((r) => [r.status, r.trigger.delivery])).toEqual([['failed', 1], ['failed', 2]]);

  const ok = (await publish(s, 'once', { payload: {} })).body.event.id;
  const consumed = await waitEvent(s, 'once', ok, (e) => e.status === 'consumed', 'the event consumed by its second run');
  expect(consumed.deliveries[0].runs).toBe(2);
  expect((await runsOf(s, 'fails-once')).map((r) => r.status)).toEqual(['failed', 'succeeded']);
}, 60_000);

test('on.max_concurrent and on.max_runs_per_hour hold events pending instead of flooding the queue', async () => {
  const s = await server();
  await register(s, spec('one-by-one', 'batch', 'sleep 0.4', { on: { topic: 'batch', max_concurrent: 1 } }));
  const answers = [];
  for (let i = 0; i < 3; i++) answers.push((await publish(s, 'batch', { payload: { i } })).body);
  expect(answers.map((a) => a.runs.length)).toEqual([1, 0, 0]);
  expect(answers[1].event.status).toBe('pending');
  for (const a of answers) await waitEvent(s, 'batch', a.event.id, (e) => e.status === 'consumed', 'each event consumed');
  const runs = await runsOf(s, 'one-by-one');
  expect(runs).toHaveLength(3);
  for (let i = 1; i < runs.length; i++) expect(Date.parse(runs[i].created_at)).toBeGreaterThanOrEqual(Date.parse(runs[i - 1].ended_at));

  await register(s, spec('hourly', 'hourly', 'true', { on: { topic: 'hourly', max_runs_per_hour: 2 } }));
  const h = [];
  for (let i = 0; i < 3; i++) h.push((await publish(s, 'hourly', { payload: { i } })).body.event.id);
  await waitEvent(s, 'hourly', h[0], (e) => e.status === 'consumed', 'first hourly event');
  await waitEvent(s, 'hourly', h[1], (e) => e.status === 'consumed', 'second hourly event');
  await Bun.sleep(1500); // a few passes of the trigger loop: the third must still wait
  expect(await event(s, 'hourly', h[2])).toMatchObject({ status: 'pending', deliveries: [{ runs: 0 }] });
  expect(await runsOf(s, 'hourly')).toHaveLength(2);
}, 60_000);

test('concurrency: 1 holds under two simultaneous triggers: two runs, never two running', async () => {
  const s = await server();
  const ws = join(s.root, 'ws-solo');
  mkdirSync(ws);
  const stamps = join(ws, 'stamps.log');
  await register(s, spec('solo', 'solo', stamped(stamps, 'sleep 0.6'), { concurrency: 1, workspace: ws }));
  const [a, b] = await Promise.all([publish(s, 'solo', { payload: { n: 1 } }), publish(s, 'solo', { payload: { n: 2 } })]);
  expect(a.body.runs).toHaveLength(1);
  expect(b.body.runs).toHaveLength(1);
  for (const r of [a, b]) await waitEvent(s, 'solo', r.body.event.id, (e) => e.status === 'consumed', 'both events consumed');
  const runs = await runsOf(s, 'solo');
  expect(runs).toHaveLength(2);
  const [r1, r2] = runs.sort((x, y) => Date.parse(x.started_at) - Date.parse(y.started_at));
  expect(Date.parse(r2.started_at)).toBeGreaterThanOrEqual(Date.parse(r1.ended_at));
  expect(maxOverlap(readStamps(stamps).values())).toBe(1);
}, 60_000);

test('across a kill -9 an event is consumed exactly once; one whose run vanished goes back to pending', async () => {
  const s = await server();
  const ws = join(s.root, 'ws-once');
  mkdirSync(ws);
  await register(s, spec('exactly-once', 'once', 'echo x >> count; sleep 2', { workspace: ws }));
  await register(s, spec('vanishing', 'vanish', 'sleep 3'));
  const pub = await publish(s, 'once', { payload: { k: 1 }, dedupe_key: 'only-once' });
  const gone = await publish(s, 'vanish', { payload: {} });
  const goneRun = gone.body.runs[0].id;
  await s.waitRun(pub.body.runs[0].id, (r) => r.status === 'running');
  await s.waitRun(goneRun, (r) => r.status === 'running');
  s.kill9();
  await s.proc.exited;
  // the run holding the second event disappears while the server is down
  const db = new Database(join(s.dataDir, 'drover.db'));
  db.exec('PRAGMA foreign_keys = ON');
  db.query('DELETE FROM runs WHERE id = ?').run(goneRun);
  db.close();

  const s2 = await restart(s);
  servers.push(s2);
  const ev = await waitEvent(s2, 'once', pub.body.event.id, (e) => e.status === 'consumed', 'the event consumed after the restart');
  expect(ev.deliveries[0].runs).toBe(1);
  expect(ev.run_ids).toEqual([pub.body.runs[0].id]);
  expect(readFileSync(join(ws, 'count'), 'utf8')).toBe('x\n'); // the job ran once
  const repeat = await publish(s2, 'once', { payload: { k: 2 }, dedupe_key: 'only-once' });
  expect(repeat.status).toBe(200);
  expect(await runsOf(s2, 'exactly-once')).toHaveLength(1);

  const back = await waitEvent(s2, 'vanish', gone.body.event.id, (e) => e.status === 'consumed', 'the vanished run\'s event consumed by a new run');
  expect(back.deliveries[0].runs).toBe(2);
  const runs = await runsOf(s2, 'vanishing');
  expect(runs).toHaveLength(1);
  expect(runs[0].id).not.toBe(goneRun);
  expect(runs[0].trigger.delivery).toBe(2);
  expect(existsSync(join(s.dataDir, 'drover.db'))).toBe(true);
}, 60_000);

test('an event nobody subscribes to is `unrouted`; settled events past the dedupe window go with GC, held ones stay', async () => {
  const s = await startServer(['--retention-max-age', '1s']);
  servers.push(s);
  await register(s, spec('listener', 'gc-topic', 'echo heard'));
  const heard = (await publish(s, 'gc-topic', { payload: {}, dedupe_key: 'k1' })).body;
  await waitEvent(s, 'gc-topic', heard.event.id, (e) => e.status === 'consumed', 'the event to be consumed');
  const lonely = (await publish(s, 'nobody-listens', { payload: {}, dedupe_key: 'k2' })).body;
  expect([lonely.event.status, lonely.runs]).toEqual(['unrouted', []]);
  // both events are two days old: past the one-day dedupe window
  const db = new Database(join(s.dataDir, 'drover.db'));
  db.exec('PRAGMA busy_timeout = 5000');
  db.query('UPDATE topic_events SET created_at = ?').run(new Date(Date.now() - 2 * 86_400_000).toISOString());
  db.close();
  await Bun.sleep(1200); // the listener's run is now past --retention-max-age
  const dry = (await s.api('POST', '/gc?dry_run=true')).body;
  expect(dry.events_removed).toBe(1); // the unrouted one; the other still has its run
  expect((await s.api('GET', `/topics/gc-topic/events/${heard.event.id}`)).status).toBe(200);
  const real = (await s.api('POST', '/gc')).body;
  expect([real.runs_removed, real.events_removed]).toEqual([1, 2]);
  expect((await s.api('GET', `/topics/gc-topic/events/${heard.event.id}`)).status).toBe(404);
  expect((await s.api('GET', `/topics/nobody-listens/events/${lonely.event.id}`)).status).toBe(404);
  // its dedupe key has expired with it: the same key makes a new event and run
  const again = await publish(s, 'gc-topic', { payload: {}, dedupe_key: 'k1' });
  expect(again.status).toBe(201);
  expect(again.body.runs).toHaveLength(1);
});
