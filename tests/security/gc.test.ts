// Retention GC (#7): keep_last and max_age per pipeline (the latest spec), the server's
// --retention-max-age for pipelines without one; run folders AND every DB row below a run go; a run
// that is not terminal never does; a dry run removes nothing; POST /gc and `drover gc` report runs
// and bytes freed; a run folder without a DB row (a crash) is swept too.
import { test, expect, afterAll, describe } from 'bun:test';
import { existsSync, mkdirSync, writeFileSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { Database } from 'bun:sqlite';
import { startServer, waitFor, DROVER_CMD, type TestServer } from '../helpers/server.ts';

let servers: TestServer[] = [];
afterAll(async () => { for (const s of servers) await s.stop(); });
const server = async (args: string[] = []) => { const s = await startServer(['--max-parallel', '4', ...args]); servers.push(s); return s; };

const spec = (name: string, commands: string[], retention?: object) =>
  ({ name, ...(retention ? { retention } : {}), stages: [{ name: 'a', jobs: [{ name: 'j', commands }] }, { name: 'b', needs: ['a'], commands: ['echo b > out.txt; echo k=v >> "$DROVER_OUTPUT"'] }] });

/** Rows that hang off the given runs, table by table (read straight from the database file). */
function rowsOf(s: TestServer, runIds: string[]): Record<string, number> {
  const db = new Database(join(s.dataDir, 'drover.db'), { readonly: true });
  try {
    const marks = runIds.map(() => '?').join(', ');
    const jobs = `SELECT id FROM jobs WHERE run_id IN (${marks})`;
    const q = (sql: string, args: string[]) => (db.query(sql).get(...args) as { n: number }).n;
    return {
      runs: q(`SELECT count(*) AS n FROM runs WHERE id IN (${marks})`, runIds),
      stages: q(`SELECT count(*) AS n FROM stages WHERE run_id IN (${marks})`, runIds),
      jobs: q(`SELECT count(*) AS n FROM jobs WHERE run_id IN (${marks})`, runIds),
      attempts: q(`SELECT count(*) AS n FROM attempts WHERE job_id IN (${jobs})`, runIds),
      commands: q(`SELECT count(*) AS n FROM commands WHERE job_id IN (${jobs})`, runIds),
      blockers: q(`SELECT count(*) AS n FROM job_blockers WHERE job_id IN (${jobs})`, runIds),
      costs: q(`SELECT count(*) AS n FROM job_costs WHERE run_id IN (${marks})`, runIds),
      events: q(`SELECT count(*) AS n FROM status_events WHERE run_id IN (${marks}) OR entity_id IN (${marks})`, [...runIds, ...runIds]),
      groups: q(`SELECT count(*) AS n FROM groups g WHERE NOT EXISTS (SELECT 1 FROM runs r WHERE r.group_id = g.id)`, []),
    };
  } finally { db.close(); }
}

describe('keep_last', () => {
  let s: TestServer, running: string, done: any[];
  test('setup: one long run first, then four that finish', async () => {
    s = await server();
    const keep = spec('kept', ['sleep 30'], { keep_last: 2, max_age: '1h' });
    running = (await s.submit(keep)).run.id;
    await waitFor(async () => (await s.api('GET', `/runs/${running}`)).body.status === 'running');
    done = [];
    for (let i = 0; i < 4; i++) done.push(await s.waitRun((await s.submit(spec('kept', [`echo run ${i}`], { keep_last: 2, max_age: '1h' }))).run.id));
    expect(done.map((r) => r.status)).toEqual(['succeeded', 'succeeded', 'succeeded', 'succeeded']);
    await waitFor(() => (rowsOf(s, done.map((r) => r.id)).costs >= 8), { what: 'the cost rows' });
  });

  test('a dry run reports what would go and removes nothing', async () => {
    const r = await s.api('POST', '/gc?dry_run=true');
    expect(r.status).toBe(200);
    expect(r.body.dry_run).toBe(true);
    expect(r.body.runs.map((x: any) => x.id).sort()).toEqual([done[0].id, done[1].id].sort());
    expect(r.body.runs.every((x: any) => x.reason === 'keep_last' && x.bytes > 0)).toBe(true);
    expect(r.body.bytes_freed).toBeGreaterThan(0);
    expect(r.body.skipped_active).toBe(1);
    for (const run of done) {
      expect(existsSync(run.dir)).toBe(true);
      expect((await s.api('GET', `/runs/${run.id}`)).status).toBe(200);
    }
    expect(rowsOf(s, [done[0].id]).jobs).toBe(2);
  });

  test('GC keeps the newest two, removes the rest on disk and in every table, and skips the running run', async () => {
    const before = rowsOf(s, [done[0].id, done[1].id]);
    expect(before.stages).toBe(4); expect(before.commands).toBe(4); expect(before.events).toBeGreaterThan(0); expect(before.blockers).toBeGreaterThan(0);
    const r = await s.api('POST', '/gc');
    expect(r.status).toBe(200);
    expect(r.body.dry_run).toBe(false);
    expect(r.body.runs_removed).toBe(2);
    expect(r.body.bytes_freed).toBeGreaterThan(0);
    for (const gone of [done[0], done[1]]) {
      expect(existsSync(gone.dir)).toBe(false);
      expect((await s.api('GET', `/runs/${gone.id}`)).status).toBe(404);
    }
    expect(rowsOf(s, [done[0].id, done[1].id])).toEqual({ runs: 0, stages: 0, jobs: 0, attempts: 0, commands: 0, blockers: 0, costs: 0, events: 0, groups: 0 });
    for (const kept of [done[2], done[3]]) {
      expect(existsSync(kept.dir)).toBe(true);
      expect((await s.api('GET', `/runs/${kept.id}`)).body.status).toBe('succeeded');
    }
    expect((await s.api('GET', `/runs/${running}`)).body.status).toBe('running');
    // nothing more to do now
    expect((await s.api('POST', '/gc')).body.runs_removed).toBe(0);
    await s.api('POST', `/runs/${running}/cancel`);
    await s.waitRun(running);
    // now terminal and beyond the newest two: it goes
    expect((await s.api('POST', '/gc')).body.runs.map((x: any) => x.id)).toEqual([running]);
  });
});

test('max_age: the server default applies to pipelines without one; `drover gc [--dry-run]`; orphan folders go', async () => {
  const s = await server(['--retention-max-age', '1s']);
  const a = await s.waitRun((await s.submit(spec('aged', ['echo old']))).run.id);
  const orphan = join(s.dataDir, 'runs', 'r_orphan0001');
  mkdirSync(orphan, { recursive: true });
  writeFileSync(join(orphan, 'big.log'), 'x'.repeat(10_000));
  utimesSync(orphan, new Date(Date.now() - 7_200_000), new Date(Date.now() - 7_200_000));
  await Bun.sleep(1200);
  const env = { ...process.env, DROVER_URL: s.url, DROVER_TOKEN: s.token };
  const dry = Bun.spawnSync([...DROVER_CMD, 'gc', '--dry-run', '--json'], { env, stdout: 'pipe', stderr: 'pipe' });
  expect(dry.exitCode).toBe(0);
  const report = JSON.parse(dry.stdout.toString());
  expect(report.runs.map((x: any) => [x.id, x.reason])).toEqual([[a.id, 'max_age']]);
  expect(report.orphans).toEqual([{ dir: 'r_orphan0001', bytes: expect.any(Number) }]);
  expect(existsSync(a.dir) && existsSync(orphan)).toBe(true);
  const real = Bun.spawnSync([...DROVER_CMD, 'gc'], { env, stdout: 'pipe', stderr: 'pipe' });
  expect(real.exitCode).toBe(0);
  expect(real.stdout.toString()).toContain('gc done');
  expect(existsSync(a.dir)).toBe(false);
  expect(existsSync(orphan)).toBe(false);
  // a fresh run is younger than max_age: kept
  const b = await s.waitRun((await s.submit(spec('aged', ['echo new']))).run.id);
  expect((await s.api('POST', '/gc')).body.runs_removed).toBe(0);
  expect(existsSync(b.dir)).toBe(true);
  // a user may not run GC
  const user = (await s.api('POST', '/tokens', { role: 'user' })).body.token;
  expect((await s.api('POST', '/gc', undefined, { token: user })).status).toBe(403);
});
