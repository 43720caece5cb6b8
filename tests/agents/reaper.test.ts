// The reaper: one bad row never stops a tick. Two leases expire; one job's row is made unreadable
// underneath the server (its stage index points nowhere): that job fails with reason `internal`, the
// other is still reaped and re-queued as attempt 2.
import { test, expect, afterAll } from 'bun:test';
import { Database } from 'bun:sqlite';
import { join } from 'node:path';
import { startServer, waitFor, type TestServer } from '../helpers/server.ts';

let s: TestServer;
afterAll(() => s?.stop());

test('a reaper fault on one row leaves the others processed', async () => {
  s = await startServer(['--lease-ttl', '1s']);
  const agent = (await s.api('POST', '/tokens', { role: 'agent' })).body.token;
  const spec = (name: string) => ({ name, retries: { backoff: '100ms' }, stages: [{ name: 'm', jobs: [{ name: 'j', executor: 'agent', commands: ['true'] }] }] });
  const a = (await s.submit(spec('bad-row'))).run.stages[0].jobs[0].id;
  const b = (await s.submit(spec('good-row'))).run.stages[0].jobs[0].id;
  for (let i = 0; i < 2; i++) expect((await s.api('POST', '/agents/claim', { agent: 'x', wait_s: 2 }, { token: agent })).status).toBe(200);
  const db = new Database(join(s.dataDir, 'drover.db'));
  db.exec('PRAGMA busy_timeout = 5000');
  db.query('UPDATE jobs SET stage_idx = 99 WHERE id = ?').run(a);
  // the API cannot render a row this broken, so read it where it lives
  const bad = await waitFor(() => {
    const row = db.query('SELECT status, reason FROM jobs WHERE id = ?').get(a) as { status: string; reason: string };
    return row.status === 'failed' && row;
  }, { what: 'the bad row to be failed' });
  db.close();
  expect(bad.reason).toBe('internal');
  const good = await waitFor(async () => { const j = (await s.api('GET', `/jobs/${b}`)).body; return j.attempt === 2 && j; }, { what: 'the good row to be reaped' });
  expect(['queued', 'running']).toContain(good.status);
  expect((await s.api('GET', '/metrics')).text).toMatch(/drover_reaper_total\{tier="reaped"\} [1-9]/);
}, 60_000);
