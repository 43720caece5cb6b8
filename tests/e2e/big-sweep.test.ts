// Issue 19: a sweep of more runs than EAGER_FOLDERS is answered (streamed) with the folders of its
// first runs only; the others wait with `why` = run_folder_pending. The server is kill -9'ed while
// they are still to be made (the failpoint run_folders holds the scheduler's folder maker back): the
// next server makes them, and every run of the sweep runs.
import { test, expect, afterAll } from 'bun:test';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, TestServer, waitFor } from '../helpers/server.ts';
import { EAGER_FOLDERS } from '../../src/core/run-folder.ts';

const servers: TestServer[] = [];
afterAll(async () => { for (const s of servers) await s.stop(); });

const N = EAGER_FOLDERS + 150;
const ARGS = ['--max-sweep', String(N), '--max-parallel', '4'];

test('the folders of a big sweep still to make when the server is killed are made by the next one', async () => {
  const s1 = await startServer(ARGS, { env: { DROVER_FAILPOINTS: 'run_folders=hang' } });
  servers.push(s1);
  const spec = { name: 'big-sweep', matrix: { i: [...Array(N).keys()] }, stages: [{ name: 'main', jobs: [{ name: 'j', commands: ['true'] }] }] };
  const post = await s1.api('POST', '/runs', { spec });
  expect(post.status).toBe(201);
  expect(post.headers.get('content-type')).toContain('application/json');
  const runs = post.body.runs as { id: string; dir: string; params: { i: number }; status: string }[];
  expect(runs.map((r) => r.params.i)).toEqual([...Array(N).keys()]);
  expect(post.body.group.total).toBe(N);
  // the answer streamed is the runs list the server holds
  const listed: string[] = [];
  for (let cursor: string | null = null; ;) {
    const page: { items: { id: string }[]; next_cursor: string | null } = (await s1.api('GET', `/runs?group=${post.body.group.id}&limit=500${cursor ? `&cursor=${cursor}` : ''}`)).body;
    listed.push(...page.items.map((r) => r.id));
    if (!(cursor = page.next_cursor)) break;
  }
  expect(listed.reverse()).toEqual(runs.map((r) => r.id));

  const hasFolder = (r: { dir: string }) => existsSync(join(r.dir, 'run.json'));
  expect(runs.filter(hasFolder).length).toBe(EAGER_FOLDERS);
  const last = runs.at(-1)!;
  const lastJob = (await s1.api('GET', `/runs/${last.id}`)).body.stages[0].jobs[0];
  const why = (await s1.api('GET', `/jobs/${lastJob.id}/why`)).body;
  expect(why.blocked).toBe(true);
  expect(why.reasons.map((r: { code: string }) => r.code)).toContain('run_folder_pending');
  // the first runs go on meanwhile
  await waitFor(async () => (await s1.api('GET', `/runs/${runs[0]!.id}`)).body.status === 'succeeded', { what: 'the first run to succeed' });

  // paused: after the restart no job starts, so only the folder maker can make the folders (a job's
  // start makes its run's folder too, when a remote agent claims it first)
  expect((await s1.api('POST', `/groups/${post.body.group.id}/pause`)).status).toBe(200);
  s1.kill9();
  await s1.proc.exited;
  expect(runs.filter(hasFolder).length).toBe(EAGER_FOLDERS); // (the failpoint held every later folder back)

  const s2 = await new TestServer(s1.root, s1.dataDir, ARGS).start();
  servers.push(s2);
  await waitFor(() => runs.every(hasFolder), { what: 'every run folder', timeoutMs: 60_000 });
  expect((await s2.api('POST', `/groups/${post.body.group.id}/resume`)).status).toBe(200);
  const g = await s2.waitGroup(post.body.group.id, undefined, 120_000);
  expect(g.status).toBe('succeeded');
  expect(g.counts.succeeded).toBe(N);
  expect(runs.every(hasFolder)).toBe(true);
  const early = JSON.parse(readFileSync(join(runs[0]!.dir, 'run.json'), 'utf8'));
  const late = JSON.parse(readFileSync(join(last.dir, 'run.json'), 'utf8'));
  expect(late).toEqual({ ...early, id: last.id, params: { i: N - 1 }, trigger: { ...early.trigger, index: N - 1 } });
  expect((await s2.api('GET', `/jobs/${lastJob.id}/why`)).body.reasons.map((r: { code: string }) => r.code)).not.toContain('run_folder_pending');
}, 180_000);
