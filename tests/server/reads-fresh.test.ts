// The fast reads stay exactly right: GET /runs answers are cached until the next write (answer-cache.ts)
// and GET /queue counts come from memory (db/job-counts.ts); a new or changed run, a paused group, a
// canceled job, even a write by another process, shows in the very next read.
import { test, expect, beforeAll, afterAll } from 'bun:test';
import { join } from 'node:path';
import { Database } from 'bun:sqlite';
import { startServer, oneStage, type TestServer } from '../helpers/server.ts';
import { AnswerCache } from '../../src/server/answer-cache.ts';

let s: TestServer;
beforeAll(async () => { s = await startServer(['--rate-limit', '0']); });
afterAll(() => s?.stop());

const agentOnly = (name: string, extra: Record<string, unknown> = {}) =>
  ({ name, ...extra, stages: [{ name: 's', jobs: [{ name: 'j', executor: 'agent', commands: ['true'] }] }] });
const first = async (q = '') => (await s.api('GET', `/runs?limit=50${q}`)).body.items[0];

test('a new run, a canceled run and a paused group show in the next read of /runs and /queue', async () => {
  const a = (await s.submit(agentOnly('fresh-a'))).run;
  expect((await first()).id).toBe(a.id);
  expect((await first()).id).toBe(a.id); // (served from the cache)
  const sweep = await s.submit(agentOnly('fresh-sweep', { matrix: { i: [1, 2, 3] } }));
  expect((await first()).id).toBe(sweep.runs[2].id);
  const collapsed = (await s.api('GET', '/runs?collapse=group&limit=50')).body.items;
  expect(collapsed.map((r: any) => r.id)).toEqual([sweep.runs[2].id, a.id]);
  expect(collapsed[0].group.status).toBe('running');

  let q = (await s.api('GET', '/queue')).body;
  expect(q.queued).toBe(4);
  expect(q.groups.find((g: any) => g.id === sweep.group.id)).toEqual({ id: sweep.group.id, status: 'running', running: 0, queued: 3 });

  expect((await s.api('POST', `/groups/${sweep.group.id}/pause`)).status).toBe(200);
  expect((await s.api('GET', '/runs?collapse=group&limit=50')).body.items[0].group.status).toBe('paused');
  q = (await s.api('GET', '/queue')).body;
  expect(q.groups.find((g: any) => g.id === sweep.group.id).status).toBe('paused');

  expect((await s.api('POST', `/runs/${a.id}/cancel`)).status).toBe(200);
  const again = (await s.api('GET', '/runs?limit=50')).body.items;
  expect(again.find((r: any) => r.id === a.id).status).toBe('canceled');
  expect((await s.api('GET', '/runs?limit=50&status=queued')).body.items.map((r: any) => r.id)).not.toContain(a.id);
  q = (await s.api('GET', '/queue')).body;
  expect(q.queued).toBe(3);
  expect(q.groups.map((g: any) => g.id)).toEqual([sweep.group.id]);
});

test('a write by another process shows in the next read', async () => {
  const b = (await s.submit(agentOnly('fresh-b'))).run;
  expect((await first()).message).toBeNull();
  const db = new Database(join(s.dataDir, 'drover.db'));
  db.exec('PRAGMA busy_timeout = 5000');
  db.prepare('UPDATE runs SET message = ? WHERE id = ?').run('written elsewhere', b.id);
  db.close();
  expect((await first()).message).toBe('written elsewhere');
});

test('AnswerCache: one answer per key while the mark holds; none kept without a mark', () => {
  let mark: string | null = '1';
  let made = 0;
  const cache = new AnswerCache(() => mark);
  const get = (k: string) => cache.get(k, () => `${k}#${++made}`);
  expect([get('a'), get('a'), get('b')]).toEqual(['a#1', 'a#1', 'b#2']);
  mark = '2';
  expect(get('a')).toBe('a#3');
  mark = null; // inside a transaction
  expect([get('a'), get('a')]).toEqual(['a#4', 'a#5']);
  mark = '2';
  expect(get('a')).toBe('a#3');
});

test('retention GC removes ended runs and the group view counts what is left (kept run counts)', async () => {
  const sweep = await s.submit(agentOnly('fresh-gc', { matrix: { i: [1, 2, 3] }, retention: { keep_last: 0 } }));
  expect((await s.api('POST', `/runs/${sweep.runs[0].id}/cancel`)).status).toBe(200);
  expect((await s.api('GET', `/groups/${sweep.group.id}`)).body.counts).toEqual({ queued: 2, running: 0, succeeded: 0, failed: 0, canceled: 1 });
  expect((await s.api('POST', '/gc')).body.runs_removed).toBeGreaterThanOrEqual(1);
  expect((await s.api('GET', `/runs/${sweep.runs[0].id}`)).status).toBe(404);
  expect((await s.api('GET', `/groups/${sweep.group.id}`)).body.counts).toEqual({ queued: 2, running: 0, succeeded: 0, failed: 0, canceled: 0 });
  const collapsed = (await s.api('GET', '/runs?collapse=group&limit=50')).body.items;
  expect(collapsed[0].group.counts.canceled).toBe(0);
});
