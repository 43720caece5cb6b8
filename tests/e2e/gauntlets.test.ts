// Reliability gauntlets: real `drover serve` processes, real jobs, real kills.
// Concurrency and ordering are judged from the jobs' OWN recorded times (stamps they
// append to a file in the workspace) or from the server's recorded job times, never
// from how often the test happened to poll.
import { test, expect, afterEach } from 'bun:test';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, oneStage, waitFor, tempDir, TestServer } from '../helpers/server.ts';
import {
  TERMINAL, stamped, readStamps, maxOverlap, getRun, getRuns, jobsOf, onlyJob,
  readResult, pgrep, killPids, removeDir, uniqueDigits,
} from './gauntlet-helpers.ts';

// ---- per-test bookkeeping: every server, temp dir and stray-process marker is cleaned up ----
let servers: TestServer[] = [];
let dirs: string[] = [];
let strayPatterns: string[] = [];

async function server(args: string[], opts: { root?: string; dataDir?: string } = {}): Promise<TestServer> {
  const s = await startServer(args, opts);
  servers.push(s);
  if (!dirs.includes(s.root)) dirs.push(s.root);
  return s;
}

afterEach(async () => {
  for (const s of servers) await s.stop().catch(() => {});
  for (const p of strayPatterns) killPids(pgrep(p));
  for (const d of dirs) removeDir(d);
  servers = []; dirs = []; strayPatterns = [];
});

/** Runs of a sweep in matrix order. */
function byIndex(runs: any[]): any[] {
  return [...runs].sort((a, b) => (a.trigger?.index ?? 0) - (b.trigger?.index ?? 0));
}

const terminal = (st: string) => TERMINAL.includes(st);

// ---------------------------------------------------------------------------------------------
test('G1: never more than max-parallel jobs at once, judged from the jobs own times', async () => {
  const s = await server(['--max-parallel', '2']);
  const stamps = join(s.root, 'stamps.log');
  const out = await s.submit(oneStage('g1-sweep', [stamped(stamps, 'echo job i=${{ params.i }}; sleep 0.5')], {
    workspace: s.root, matrix: { i: [1, 2, 3, 4] },
  }));
  expect(out.runs).toHaveLength(4);

  const group = await s.waitGroup(out.group.id);
  expect(group.status).toBe('succeeded');
  expect(group.counts.succeeded).toBe(4);

  // from the jobs' own stamps: 4 complete intervals, at most 2 at once (and 2 were used)
  const iv = readStamps(stamps);
  expect(iv.size).toBe(4);
  for (const i of iv.values()) expect(i.end).toBeDefined();
  const overlap = maxOverlap(iv.values());
  expect(overlap).toBeLessThanOrEqual(2);
  expect(overlap).toBe(2); // the limit was actually used, so the check above is not vacuous

  const runs = await getRuns(s, byIndex(out.runs).map((r: any) => r.id));
  for (const [k, run] of runs.entries()) {
    expect(run.status).toBe('succeeded');
    const job = onlyJob(run);
    expect(job.status).toBe('succeeded');
    // the job's log is fetchable and is this job's output
    const log = await s.api('GET', `/jobs/${job.id}/logs`);
    expect(log.status).toBe(200);
    expect(log.text).toContain(`job i=${run.params.i}`);
    expect(run.params.i).toBe(k + 1);
    // the run folder has result.json agreeing with the API
    const dir = join(s.dataDir, 'runs', run.id);
    expect(run.dir).toBe(dir);
    expect(existsSync(join(dir, 'result.json'))).toBe(true);
    expect(readResult(s.dataDir, run.id).status).toBe('succeeded');
  }
}, 90_000);

// ---------------------------------------------------------------------------------------------
test('G2: a paused group starts nothing new, reports group_paused, and finishes after resume', async () => {
  const s = await server(['--max-parallel', '1']);
  const stamps = join(s.root, 'stamps.log');
  const out = await s.submit(oneStage('g2-sweep', [stamped(stamps, 'sleep 0.7')], {
    workspace: s.root, matrix: { i: [1, 2, 3, 4, 5, 6] },
  }));
  const ids: string[] = byIndex(out.runs).map((r: any) => r.id);
  const gid = out.group.id;

  const paused = await s.api('POST', `/groups/${gid}/pause`);
  expect(paused.status).toBe(200);

  // snapshot right after the pause was acknowledged: nothing can start from here on
  const atPause = await getRuns(s, ids);
  const startedAtPause = new Set(atPause.map(onlyJob).filter((j) => j.status !== 'queued').map((j) => j.id));
  expect(startedAtPause.size).toBeLessThanOrEqual(1); // max-parallel 1
  expect((await s.api('GET', `/groups/${gid}`)).body.status).toBe('paused');

  // a queued job says why it is waiting
  const queuedJob = atPause.map(onlyJob).find((j) => j.status === 'queued');
  expect(queuedJob).toBeDefined();
  const why = await s.api('GET', `/jobs/${queuedJob.id}/why`);
  expect(why.status).toBe(200);
  expect(why.body.blocked).toBe(true);
  expect(why.body.reasons.map((r: any) => r.code)).toContain('group_paused');

  // "nothing happens" cannot be waited for: give the scheduler ample time to misbehave
  await Bun.sleep(2_500);

  const later = await getRuns(s, ids);
  for (const run of later) {
    const job = onlyJob(run);
    if (startedAtPause.has(job.id)) {
      expect(job.status).toBe('succeeded'); // running jobs finish while paused
    } else {
      expect(job.status).toBe('queued'); // queued ones stay queued
      expect(job.started_at).toBeNull();
      expect(run.status).toBe('queued');
    }
  }
  // and the jobs' own stamps agree: only the ones started before the pause ran
  const runOfJob = new Map(later.map((r) => [onlyJob(r).id, r.id]));
  const ranWhilePaused = [...readStamps(stamps).keys()].sort();
  expect(ranWhilePaused).toEqual([...startedAtPause].map((j) => runOfJob.get(j)!).sort());
  expect((await s.api('GET', `/groups/${gid}`)).body.status).toBe('paused');

  const resumed = await s.api('POST', `/groups/${gid}/resume`);
  expect(resumed.status).toBe(200);
  const group = await s.waitGroup(gid);
  expect(group.status).toBe('succeeded');
  const done = await getRuns(s, ids);
  expect(done.map((r) => r.status)).toEqual(Array(6).fill('succeeded'));
  const iv = readStamps(stamps);
  expect(iv.size).toBe(6);
  expect(maxOverlap(iv.values())).toBeLessThanOrEqual(1);
}, 90_000);

// ---------------------------------------------------------------------------------------------
test('G3: canceling a group mid-way cancels every run, stops running jobs and their processes', async () => {
  const s = await server(['--max-parallel', '2']);
  const marker = `sleep 30.${uniqueDigits()}`; // unique so pgrep finds only this test's processes
  strayPatterns.push(marker);
  const out = await s.submit(oneStage('g3-sweep', [marker], { workspace: s.root, matrix: { i: [1, 2, 3, 4, 5, 6] } }));
  const ids: string[] = byIndex(out.runs).map((r: any) => r.id);
  const gid = out.group.id;

  // mid-way: two jobs running, and their sleep processes really exist
  await waitFor(async () => {
    const runs = await getRuns(s, ids);
    return runs.map(onlyJob).filter((j) => j.status === 'running').length === 2 && pgrep(marker).length === 2;
  }, { timeoutMs: 30_000, what: '2 jobs running with their sleep processes' });

  const canceled = await s.api('POST', `/groups/${gid}/cancel`);
  expect(canceled.status).toBe(200);

  const group = await s.waitGroup(gid, (g) => terminal(g.status), 60_000);
  expect(group.status).toBe('canceled');

  // no job stays running
  const runs: any[] = await waitFor(async () => {
    const rs = await getRuns(s, ids);
    return rs.every((r) => terminal(r.status) && jobsOf(r).every((j) => terminal(j.status))) ? rs : null;
  }, { timeoutMs: 30_000, what: 'every job of the group to be terminal' });

  for (const run of runs) {
    expect(run.status).toBe('canceled');
    for (const j of jobsOf(run)) expect(j.status).toBe('canceled');
    // result.json agrees with the DB/API (allow the file a moment to be written)
    await waitFor(() => readResult(s.dataDir, run.id), { timeoutMs: 10_000, what: `result.json of ${run.id}` }).catch(() => {});
    expect(readResult(s.dataDir, run.id)?.status).toBe(run.status);
  }

  // the sleep processes are gone
  await waitFor(() => pgrep(marker).length === 0, { timeoutMs: 15_000, what: `no '${marker}' process left` }).catch(() => {});
  expect(pgrep(marker)).toEqual([]);
}, 120_000);

// ---------------------------------------------------------------------------------------------
test('G4: kill -9 of the server while 3 jobs run: a restarted server finishes each exactly once', async () => {
  const root = tempDir();
  const dataDir = join(root, 'data');
  dirs.push(root);
  const args = ['--max-parallel', '3'];
  const s1 = await server(args, { root, dataDir });
  const q = (p: string) => `'${p.replace(/'/g, `'\\''`)}'`;
  const cmd = `m=${q(root + '/marker-')}"$DROVER_RUN_ID"; echo start >> "$m"; sleep 2; echo done >> "$m"`;
  const out = await s1.submit(oneStage('g4-sweep', [cmd], { workspace: root, matrix: { i: [1, 2, 3] } }));
  const ids: string[] = byIndex(out.runs).map((r: any) => r.id);
  const markerOf = (id: string) => join(root, `marker-${id}`);
  const lines = (id: string) => (existsSync(markerOf(id)) ? readFileSync(markerOf(id), 'utf8').split('\n').filter(Boolean) : []);

  // all three jobs really started (their own marker says so)
  await waitFor(() => ids.every((id) => lines(id).includes('start')), { timeoutMs: 30_000, what: 'all 3 jobs to start' });
  const unfinishedAtKill = ids.filter((id) => !lines(id).includes('done')).length;
  s1.kill9();
  await s1.proc.exited;
  expect(unfinishedAtKill).toBe(3); // the kill really happened mid-job

  // a new server on the same data dir and root takes over (the old pid is gone)
  const s2 = await new TestServer(root, dataDir, args).start();
  servers.push(s2);

  const group = await s2.waitGroup(out.group.id, (g) => terminal(g.status), 90_000);
  const runs = await getRuns(s2, ids);
  expect(runs.map((r) => r.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
  expect(group.status).toBe('succeeded');
  // none ran twice, none was lost
  for (const id of ids) expect(lines(id)).toEqual(['start', 'done']);
}, 150_000);

// ---------------------------------------------------------------------------------------------
test('G5: fairness: a single run submitted after a 10-run sweep does not wait for the whole sweep', async () => {
  const s = await server(['--max-parallel', '1']);
  const stamps = join(s.root, 'stamps.log');
  const sweep = await s.submit(oneStage('g5-sweep', [stamped(stamps, 'sleep 0.2')], {
    workspace: s.root, matrix: { i: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] },
  }));
  const single = await s.submit(oneStage('g5-single', [stamped(stamps, 'sleep 0.2')], { workspace: s.root }));
  const singleId: string = single.run.id;
  const sweepIds: string[] = byIndex(sweep.runs).map((r: any) => r.id);

  const group = await s.waitGroup(sweep.group.id, (g) => terminal(g.status), 90_000);
  expect(group.status).toBe('succeeded');
  const singleRun = await s.waitRun(singleId, (r) => terminal(r.status), 60_000);
  expect(singleRun.status).toBe('succeeded');

  // from the server's recorded start times
  const singleStart = Date.parse(onlyJob(singleRun).started_at);
  const sweepStarts = (await getRuns(s, sweepIds)).map((r) => Date.parse(onlyJob(r).started_at));
  expect(sweepStarts.every(Number.isFinite)).toBe(true);
  const sweepAfterSingle = sweepStarts.filter((t) => t > singleStart).length;
  expect(sweepAfterSingle).toBeGreaterThanOrEqual(5);

  // and from the jobs' own stamps
  const iv = readStamps(stamps);
  expect(iv.size).toBe(11);
  const singleOwn = iv.get(singleId)!.start;
  expect(sweepIds.filter((id) => iv.get(id)!.start > singleOwn).length).toBeGreaterThanOrEqual(5);
  expect(maxOverlap(iv.values())).toBeLessThanOrEqual(1);
}, 120_000);

// ---------------------------------------------------------------------------------------------
test('G6: a queued run whose folder was deleted fails with missing_run_folder; the others succeed', async () => {
  const s = await server(['--max-parallel', '1']);
  const out = await s.submit(oneStage('g6-sweep', ['sleep 1'], { workspace: s.root, matrix: { i: [1, 2, 3] } }));
  const runs0 = byIndex(out.runs);
  const victim = runs0[2];
  expect(victim.dir).toBe(join(s.dataDir, 'runs', victim.id));
  rmSync(victim.dir, { recursive: true, force: true });

  const group = await s.waitGroup(out.group.id, (g) => terminal(g.status), 60_000);
  const runs = await getRuns(s, runs0.map((r: any) => r.id));
  expect(runs[0].status).toBe('succeeded');
  expect(runs[1].status).toBe('succeeded');

  const job = onlyJob(runs[2]);
  expect(job.status).toBe('failed');
  expect(job.reason).toBe('missing_run_folder');
  expect(job.message).toContain(victim.dir);
  expect(runs[2].status).toBe('failed');
  expect(group.status).toBe('failed');
}, 90_000);
