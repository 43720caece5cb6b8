// Issue 14 #4: a secret rotated while a job runs. The job keeps printing the value it started with; a
// copier resumed after a server restart must still redact that old value (kept sealed with the job),
// as well as the current one.
import { test, expect, afterAll } from 'bun:test';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, oneStage, waitFor, TestServer } from '../helpers/server.ts';
import { expectNoLeak } from './helpers.ts';

const servers: TestServer[] = [];
afterAll(async () => { for (const s of servers) await s.stop(); });

const OLD = 'rotated-away-OLD-value-111';
const NEW = 'rotated-in-NEW-value-222';

test('a value rotated away mid-job stays redacted in the rest of its log after a restart', async () => {
  const s1 = await startServer();
  servers.push(s1);
  await s1.api('PUT', '/secrets/ROT', { value: OLD });
  const n = 30;
  const out = await s1.submit(oneStage('rotate', [`for i in $(seq 1 ${n}); do echo "line $i $ROT"; sleep 0.1; done`], { secrets: ['ROT'] }));
  const job = out.run.stages[0].jobs[0];
  await waitFor(async () => ((await s1.api('GET', `/jobs/${job.id}/logs`)).text.match(/\n/g)?.length ?? 0) >= 3, { what: 'some copied lines' });
  const sealed = existsSync(join(job.dir, 'secrets.sealed')) ? readFileSync(join(job.dir, 'secrets.sealed'), 'utf8') : null;
  expect((await s1.api('PUT', '/secrets/ROT', { value: NEW })).status).toBe(200);
  s1.kill9();
  await s1.proc.exited;
  await Bun.sleep(500); // the job prints on with the old value while no server copies
  const s2 = await new TestServer(s1.root, s1.dataDir, s1.args).start();
  servers.push(s2);
  const run = await s2.waitRun(out.run.id, undefined, 60_000);
  expect(run.status).toBe('succeeded');
  const log = (await s2.api('GET', `/jobs/${job.id}/logs`)).text;
  expectNoLeak(log, OLD, 'whole-job log after the restart');
  expect(log).toBe(Array.from({ length: n }, (_, i) => `line ${i + 1} [REDACTED:ROT]\n`).join(''));
  // kept beside the job, encrypted, while it ran; gone once its log is final
  expect(sealed).not.toBeNull();
  expect(sealed).not.toContain(OLD);
  expect(existsSync(join(job.dir, 'secrets.sealed'))).toBe(false);
}, 90_000);
