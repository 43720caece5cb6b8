// The reaper's tier (b) and the finalization marker. A job's end is applied by the one finalizer
// holding its marker. Failpoints (DROVER_FAILPOINTS) stall, hang or kill the server exactly at the
// finalizer's work (after the redacted log drained, before the end is applied); everything else is real:
//   live finalizer past the grace → the reaper defers, tick after tick; the end is applied once;
//   dead finalizer (its server killed mid-finalization) → the next server's reaper takes it over once;
//   stuck finalizer (never finishes, still renews) → the backstop fails the job anyway, once;
//   a taken-over job whose executor cannot read its end from files (Slurm asks its queue) goes back
//   to that executor's own observation and still ends once.
import { test, expect, afterEach } from 'bun:test';
import { Database } from 'bun:sqlite';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, waitFor, tempDir, TestServer } from '../helpers/server.ts';

let servers: TestServer[] = [];
afterEach(async () => { for (const s of servers.splice(0)) await s.stop(); });
const start = async (args: string[], opts: Parameters<typeof startServer>[1] = {}) => {
  const s = await startServer(['--finalize-grace', '1s', ...args], opts);
  servers.push(s);
  return s;
};

const SECRET = 'fin-4f1c9e27b0aa51';
const spec = (name: string, command: string) => ({
  name, secrets: ['FIN'], retries: { max: 0 },
  stages: [{ name: 'main', jobs: [{ name: 'job', commands: [command] }] }],
});

function db(s: TestServer) {
  const d = new Database(join(s.dataDir, 'drover.db'), { readonly: true });
  d.exec('PRAGMA busy_timeout = 5000');
  return d;
}
const marker = (s: TestServer, job: string) => {
  const d = db(s);
  try { return d.query('SELECT status, final_token, final_since, final_until FROM jobs WHERE id = ?').get(job) as { status: string; final_token: string | null; final_until: number | null }; } finally { d.close(); }
};
/** Every status the job went through, from the stored event log. */
const history = (s: TestServer, job: string) => {
  const d = db(s);
  try { return (d.query(`SELECT status FROM status_events WHERE kind = 'job' AND entity_id = ? ORDER BY seq`).all(job) as { status: string }[]).map((r) => r.status); } finally { d.close(); }
};
async function reaper(s: TestServer): Promise<Record<string, number>> {
  const text = (await s.api('GET', '/metrics')).text;
  return Object.fromEntries([...text.matchAll(/drover_reaper_total\{tier="(\w+)"\} (\d+)/g)].map((m) => [m[1]!, Number(m[2])]));
}
/** A command that waits for the test to open its gate (a file in the test's root). */
const gate = (s: TestServer) => join(s.root, 'gate');
const awaitGate = (s: TestServer) => `while [ ! -e '${gate(s)}' ]; do sleep 0.05; done`;

async function submitWithSecret(s: TestServer, name: string, command: string): Promise<{ run: string; job: string }> {
  expect((await s.api('PUT', '/secrets/FIN', { value: SECRET })).status).toBe(201);
  const out = await s.submit(spec(name, command));
  return { run: out.run.id, job: out.run.stages[0].jobs[0].id };
}

test('a live finalizer past the grace is deferred to, over several ticks, and its end is applied once', async () => {
  const s = await start([], { env: { DROVER_FAILPOINTS: 'finalize=sleep(4500)' } });
  const { run, job } = await submitWithSecret(s, 'fin-live', 'echo "key=$FIN"; echo done');
  // the command is over; its finalizer holds the job and keeps renewing past the 1 s grace
  const held = await waitFor(() => { const m = marker(s, job); return m.final_token && m; }, { what: 'the finalizer to take its marker' });
  expect(held.status).toBe('running');
  const firstUntil = held.final_until!;
  const deferred = await waitFor(async () => { const r = await reaper(s); return r.deferred >= 3 && r; }, { what: 'the reaper to defer several times' });
  expect(deferred.reaped_finalizer).toBe(0);
  const renewed = marker(s, job);
  expect(renewed.status).toBe('running');
  expect(renewed.final_token).toBe(held.final_token); // same owner, marker renewed
  expect(renewed.final_until!).toBeGreaterThan(firstUntil);

  const done = await s.waitRun(run);
  expect(done.status).toBe('succeeded');
  const log = (await s.api('GET', `/jobs/${job}/logs`)).text;
  expect(log).toBe('key=[REDACTED:FIN]\ndone\n'); // the drained, redacted log is the one applied
  await Bun.sleep(1500); // more ticks: nothing applies the end a second time
  expect(history(s, job)).toEqual(['running', 'succeeded']);
  expect(marker(s, job).final_token).toBeNull(); // released by the transition
  const after = await reaper(s);
  expect(after.reaped_finalizer).toBe(0);
  expect(after.fenced).toBe(0);
  expect((await s.api('GET', `/jobs/${job}`)).body.attempt).toBe(1);
}, 60_000);

test('a dead finalizer (its server killed mid-finalization) is reaped once by the next server', async () => {
  const a = await start([], { env: { DROVER_FAILPOINTS: 'finalize=crash' } });
  // the job ends only once the submit was answered (the failpoint kills the server at the job's end)
  const { run, job } = await submitWithSecret(a, 'fin-dead', `${awaitGate(a)}; echo "out $FIN"; exit 3`);
  writeFileSync(gate(a), '');
  expect(await a.proc.exited).not.toBe(0); // the failpoint killed the server while it held the marker
  const orphan = marker(a, job);
  expect(orphan.status).toBe('running');
  expect(orphan.final_token).not.toBeNull();

  const b = await start([], { root: a.root, dataDir: a.dataDir });
  const done = await b.waitRun(run);
  expect(done.status).toBe('failed');
  const j = (await b.api('GET', `/jobs/${job}`)).body;
  expect(j.exit_code).toBe(3); // read from what the runner left, not guessed
  expect(j.reason).toBe('exit_code');
  expect(j.attempt).toBe(1);
  expect((await b.api('GET', `/jobs/${job}/logs`)).text).toBe('out [REDACTED:FIN]\n');
  await Bun.sleep(2000); // several more reaper passes
  const r = await reaper(b);
  expect(r.reaped_finalizer).toBe(1);
  expect(history(b, job)).toEqual(['running', 'failed']);
}, 60_000);

test('a stuck finalizer is not immortal: the backstop fails the job once, ignoring the marker', async () => {
  const s = await start(['--backstop', '4s'], { env: { DROVER_FAILPOINTS: 'finalize=hang' } });
  const { run, job } = await submitWithSecret(s, 'fin-stuck', 'echo "$FIN" > /dev/null; echo ok');
  await waitFor(() => marker(s, job).final_token, { what: 'the finalizer to take its marker' });
  await waitFor(async () => (await reaper(s)).deferred >= 1, { what: 'the reaper to defer to the live finalizer' });
  const done = await s.waitRun(run);
  expect(done.status).toBe('failed');
  const j = (await s.api('GET', `/jobs/${job}`)).body;
  expect(j.reason).toBe('backstop');
  await Bun.sleep(1500);
  const r = await reaper(s);
  expect(r.backstop).toBe(1);
  expect(r.reaped_finalizer).toBe(0);
  expect(history(s, job)).toEqual(['running', 'failed']);
  expect(marker(s, job).final_token).toBeNull();
}, 60_000);

test('after a takeover, a Slurm job (its end is in the queue, not the files) goes back to its poll and ends once', async () => {
  // a fake Slurm at the process boundary: sbatch runs the script at once; squeue lists nothing; no sacct
  const bin = join(tempDir('drover-fake-slurm-'), 'bin');
  mkdirSync(bin);
  const script = (body: string) => `#!/bin/bash\n${body}\n`;
  writeFileSync(join(bin, 'sbatch'), script('id=$((RANDOM + 1000)); SLURM_JOB_ID=$id setsid bash "${@: -1}" >/dev/null 2>&1 </dev/null & echo "$id"'), { mode: 0o755 });
  writeFileSync(join(bin, 'squeue'), script('exit 0'), { mode: 0o755 });
  writeFileSync(join(bin, 'scancel'), script('exit 0'), { mode: 0o755 });
  writeFileSync(join(bin, 'sacct'), script('echo "Slurm accounting storage is disabled" >&2; exit 1'), { mode: 0o755 });
  const env = { DROVER_SLURM_PATH: `${bin}:/usr/bin:/bin`, DROVER_SLURM_MISSING_GRACE_MS: '300', DROVER_SLURM_POLL_MIN_MS: '200', DROVER_SLURM_POLL_MAX_MS: '400' };
  const a = await start([], { env: { ...env, DROVER_FAILPOINTS: 'finalize=crash' } });
  expect((await a.api('PUT', '/secrets/FIN', { value: SECRET })).status).toBe(201);
  const out = await a.submit({ ...spec('fin-slurm', ''), stages: [{ name: 'main', jobs: [{ name: 'job', executor: 'slurm', commands: [`${awaitGate(a)}; echo "x $FIN"`] }] }] });
  const job = out.run.stages[0].jobs[0].id;
  writeFileSync(gate(a), '');
  expect(await a.proc.exited).not.toBe(0); // died holding the marker
  const b = await start([], { root: a.root, dataDir: a.dataDir, env });
  const done = await b.waitRun(out.run.id);
  expect(done.status).toBe('succeeded');
  expect((await b.api('GET', `/jobs/${job}/logs`)).text).toBe('x [REDACTED:FIN]\n');
  await Bun.sleep(1500);
  expect((await reaper(b)).reaped_finalizer).toBe(1);
  expect(history(b, job)).toEqual(['running', 'succeeded']);
}, 60_000);
