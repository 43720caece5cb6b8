// The local executor's spawner: jobs start from Worker threads (not the main thread), detached in their
// own session, and their exits are heard; when a Worker dies, exits of its running jobs are still heard.
import { test, expect } from 'bun:test';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Spawner } from '../../src/plugins/local/spawner.ts';

const dir = mkdtempSync(join(tmpdir(), 'drover-spawner-'));
const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', MARK: 'from-the-spawner' };

test('20 jobs from two Worker threads: each runs once in its own session with the given env, and each exit is heard', async () => {
  const s = new Spawner(env);
  const started = await Promise.all(Array.from({ length: 20 }, (_, i) =>
    s.spawn(['bash', '-c', `echo "$$ $(ps -o sid= -p $$) $MARK" > out-${i}; sleep 0.1`], dir)));
  await Promise.all(started.map((p) => p.exited));
  for (let i = 0; i < 20; i++) {
    const [pid, sid, mark] = readFileSync(join(dir, `out-${i}`), 'utf8').trim().split(/\s+/);
    expect(Number(pid)).toBe(started[i]!.pid);
    expect(Number(sid)).toBe(started[i]!.pid); // setsid: its own session (a kill -9 of the server leaves it running)
    expect(mark).toBe('from-the-spawner');
  }
  expect(new Set(started.map((p) => p.pid)).size).toBe(20);
});

test('a Worker that dies: the exit of the job it started is still heard (watched by pid)', async () => {
  const s = new Spawner(env, 1);
  const p = await s.spawn(['bash', '-c', 'sleep 0.4; touch done-late'], dir);
  const worker = (s as unknown as { workers: Worker[] }).workers[0]!;
  (s as unknown as { lost(w: Worker): void }).lost(worker); // as its 'error' event does
  worker.terminate();
  await p.exited;
  expect(existsSync(join(dir, 'done-late'))).toBe(true);
  // with no Worker left, the main thread spawns
  const q = await s.spawn(['bash', '-c', 'touch after'], dir);
  await q.exited;
  expect(existsSync(join(dir, 'after'))).toBe(true);
});

test('a command that cannot start is an error, not a hang', async () => {
  const s = new Spawner(env);
  await expect(s.spawn(['/nonexistent/drover-no-such-binary'], dir)).rejects.toThrow();
});
