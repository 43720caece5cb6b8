// Cron schedules against a real server, judged from the run records (trigger.fire_time, created_at,
// started_at, ended_at), never from the test's own clock: an every-second cron fires once per second,
// overlap skip/queue with a slow job, catch-up after a downtime, and bad expressions.
import { test, expect, afterAll } from 'bun:test';
import { startServer, waitFor, type TestServer } from '../helpers/server.ts';
import { register, scheduled, fireMs, restart, waitRuns, TERMINAL } from './helpers.ts';

const servers: TestServer[] = [];
afterAll(async () => { for (const s of servers) await s.stop(); });
async function server(args: string[] = ['--max-parallel', '8']) { const s = await startServer(args); servers.push(s); return s; }

const job = (name: string, cmd: string, schedule: object, extra: object = {}) =>
  ({ name, schedule, stages: [{ name: 'a', jobs: [{ name: 'j', commands: [cmd] }] }], ...extra });

test('an every-second cron makes one run per second, each recording its fire time; GET /pipelines shows the next ones', async () => {
  const s = await server();
  const { version } = await register(s, job('tick', 'true', { cron: '* * * * * *', overlap: 'allow' }));
  await waitRuns(s, 'tick', (rs) => rs.length >= 5, '5 scheduled runs');
  const shown = (await s.api('GET', '/pipelines/tick')).body;
  expect(shown.schedule).toMatchObject({ cron: '* * * * * *', timezone: 'UTC', overlap: 'allow', catch_up: 'none' });
  expect(shown.schedule.next).toHaveLength(3);
  const next = shown.schedule.next.map(Date.parse);
  expect(next[1] - next[0]).toBe(1000);
  expect(next[2] - next[1]).toBe(1000);
  expect(Date.parse(shown.schedule.last_fire)).toBeLessThan(next[0]);
  // a version without the schedule stops it (the latest version's schedule counts)
  await register(s, job('tick', 'true', undefined as never));
  const runs = await scheduled(s, 'tick');
  const fires = runs.map(fireMs);
  expect(new Set(fires).size).toBe(fires.length); // no occurrence fired twice
  for (const f of fires) expect(f % 1000).toBe(0);
  for (let i = 1; i < fires.length; i++) expect(fires[i]! - fires[i - 1]!).toBe(1000); // none missed
  expect(fires.length).toBe((fires.at(-1)! - fires[0]!) / 1000 + 1); // the expected number in the window
  const registered = Date.parse((await s.api('GET', '/pipelines/tick')).body.versions.find((v: any) => v.version === version).created_at);
  expect(fires[0]!).toBeGreaterThan(registered); // nothing before the schedule existed
  for (const r of runs) expect(Date.parse(r.created_at)).toBeGreaterThanOrEqual(fireMs(r));
  const after = (await s.api('GET', '/pipelines/tick')).body;
  expect(after.schedule).toBeNull();
  expect((await scheduled(s, 'tick')).length).toBe(runs.length);
}, 60_000);

test('overlap: skip makes no run while the previous scheduled run is still going', async () => {
  const s = await server();
  await register(s, job('slow-skip', 'sleep 2.2', { cron: '* * * * * *', overlap: 'skip' }));
  await waitRuns(s, 'slow-skip', (rs) => rs.filter((r) => TERMINAL.has(r.status)).length >= 2, '2 finished runs');
  const shown = (await s.api('GET', '/pipelines/slow-skip')).body;
  expect(shown.schedule.skipped).toBeGreaterThan(0);
  await register(s, job('slow-skip', 'sleep 2.2', undefined as never));
  const runs = await scheduled(s, 'slow-skip');
  expect(runs.length).toBeGreaterThanOrEqual(2);
  for (let i = 1; i < runs.length; i++) {
    // a run was made only once the one before had ended, so their fire times are more than a second apart
    expect(Date.parse(runs[i].created_at)).toBeGreaterThanOrEqual(Date.parse(runs[i - 1].ended_at));
    expect(fireMs(runs[i]) - fireMs(runs[i - 1])).toBeGreaterThan(1000);
  }
}, 60_000);

test('overlap: queue makes every run, and each starts only after the previous scheduled run ended', async () => {
  const s = await server();
  await register(s, job('slow-queue', 'sleep 1.3', { cron: '* * * * * *', overlap: 'queue' }));
  await waitRuns(s, 'slow-queue', (rs) => rs.filter((r) => r.status === 'succeeded').length >= 3, '3 finished runs');
  await register(s, job('slow-queue', 'sleep 1.3', undefined as never));
  let runs = await scheduled(s, 'slow-queue');
  // queued ones left over: cancel them, then judge
  for (const r of runs) if (!TERMINAL.has(r.status)) await s.api('POST', `/runs/${r.id}/cancel`);
  runs = await waitFor(async () => { const rs = await scheduled(s, 'slow-queue'); return rs.every((r) => TERMINAL.has(r.status)) && rs; }, { what: 'all runs ended' });
  const fires = runs.map(fireMs);
  for (let i = 1; i < fires.length; i++) expect(fires[i]! - fires[i - 1]!).toBe(1000); // queue skips nothing
  const byId = new Map(runs.map((r) => [r.id, r]));
  const held = runs.filter((r) => r.trigger.after);
  expect(held.length).toBeGreaterThanOrEqual(2);
  for (const r of held.filter((x) => x.started_at)) {
    const prev = byId.get(r.trigger.after)!;
    expect(Date.parse(r.started_at)).toBeGreaterThanOrEqual(Date.parse(prev.ended_at));
  }
  const started = runs.filter((r) => r.started_at).sort((a, b) => Date.parse(a.started_at) - Date.parse(b.started_at));
  for (let i = 1; i < started.length; i++) expect(Date.parse(started[i].started_at)).toBeGreaterThanOrEqual(Date.parse(started[i - 1].ended_at));
}, 60_000);

test('catch-up after a downtime: none makes no run for the missed seconds, last one, all one per missed second', async () => {
  const s = await server();
  for (const policy of ['none', 'last', 'all']) await register(s, job(`catch-${policy}`, 'true', { cron: '* * * * * *', overlap: 'allow', catch_up: policy }));
  for (const policy of ['none', 'last', 'all']) await waitRuns(s, `catch-${policy}`, (rs) => rs.length >= 2, `runs of catch-${policy}`);
  await s.stop();
  await Bun.sleep(3000); // the downtime the schedules miss
  const s2 = await restart(s);
  servers.push(s2);
  const live = (rs: any[]) => rs.filter((r) => !r.trigger.catch_up);
  const judge: Record<string, any[]> = {};
  for (const policy of ['none', 'last', 'all']) {
    const name = `catch-${policy}`;
    const before = (await scheduled(s2, name)).length;
    await waitRuns(s2, name, (rs) => live(rs).length >= before + 2, `live runs of ${name} after the restart`);
  }
  for (const policy of ['none', 'last', 'all']) await register(s2, job(`catch-${policy}`, 'true', undefined as never));
  for (const policy of ['none', 'last', 'all']) judge[policy] = await scheduled(s2, `catch-${policy}`);
  for (const [policy, runs] of Object.entries(judge)) {
    const fires = runs.map(fireMs);
    expect(new Set(fires).size).toBe(fires.length); // never twice
    const liveFires = live(runs).map(fireMs);
    // the downtime is the one gap between consecutive live fires
    let gapAt = 0;
    for (let i = 1; i < liveFires.length; i++) if (liveFires[i]! - liveFires[i - 1]! > liveFires[gapAt + 1]! - liveFires[gapAt]!) gapAt = i - 1;
    const [lastBefore, firstAfter] = [liveFires[gapAt]!, liveFires[gapAt + 1]!];
    const missed = (firstAfter - lastBefore) / 1000 - 1;
    expect(missed).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < liveFires.length; i++) if (i !== gapAt + 1) expect(liveFires[i]! - liveFires[i - 1]!).toBe(1000);
    const caught = runs.filter((r) => r.trigger.catch_up).map(fireMs);
    if (policy === 'none') expect(caught).toEqual([]);
    if (policy === 'last') expect(caught).toEqual([firstAfter - 1000]);
    if (policy === 'all') expect(caught).toEqual(Array.from({ length: missed }, (_, k) => lastBefore + (k + 1) * 1000));
  }
}, 60_000);

test('a bad cron expression is a 400 that names it, at registration and at submit', async () => {
  const s = await server();
  const bad = job('bad-cron', 'true', { cron: '61 * * * *' });
  const r = await s.api('POST', '/pipelines', bad);
  expect(r.status).toBe(400);
  expect(r.body.error.code).toBe('invalid_spec');
  expect(r.body.error.message).toContain("'61 * * * *'");
  expect(r.body.error.details.path).toBe('schedule.cron');
  const r2 = await s.api('POST', '/runs', { spec: bad });
  expect(r2.status).toBe(400);
  expect(r2.body.error.message).toContain("'61 * * * *'");
  const never = await s.api('POST', '/pipelines', job('never-cron', 'true', { cron: '0 0 30 2 *' }));
  expect(never.status).toBe(400);
  expect(never.body.error.message).toContain('never fires');
  expect((await s.api('GET', '/pipelines/bad-cron')).status).toBe(404);
}, 60_000);
