// Provenance (#7): result.json records the effective config, the SHA-256 of job.sh and of each command
// line as rendered, the NAMES of the job's environment variables (no values), host, drover version,
// timings and exit codes; attestation.json signs it (Ed25519), and `drover verify RUN` checks it —
// through the API or the run folder — and fails loudly (exit 1) once one byte is changed.
import { test, expect, beforeAll, afterAll } from 'bun:test';
import { readFileSync, writeFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { hostname } from 'node:os';
import { createHash } from 'node:crypto';
import { startServer, waitFor, DROVER_CMD, type TestServer } from '../helpers/server.ts';
import { shellQuote } from '../../src/runner/quote.ts';
import pkg from '../../package.json';

const sha = (b: string | Buffer) => createHash('sha256').update(b).digest('hex');
let s: TestServer, run: any, result: any;
const SECRET = 'provenance-secret-value';

beforeAll(async () => {
  s = await startServer(['--max-parallel', '2']);
  await s.api('PUT', '/secrets/PROV_TOKEN', { value: SECRET });
  const out = await s.submit({
    name: 'prov', env: { GREETING: 'hello there' }, secrets: ['PROV_TOKEN'], params: { who: "o'brien" },
    stages: [{ name: 'a', jobs: [{ name: 'j', resources: { cpus: 1 }, commands: ['echo "$GREETING" ${{ params.who }}', { run: 'exit 3', allow_failure: true }] }] }],
  });
  run = await s.waitRun(out.run.id);
  await waitFor(() => { try { return JSON.parse(readFileSync(join(run.dir, 'attestation.json'), 'utf8')).run === run.id; } catch { return false; } }, { what: 'attestation.json' });
  result = JSON.parse(readFileSync(join(run.dir, 'result.json'), 'utf8'));
});
afterAll(() => s?.stop());

function verify(args: string[]) {
  const p = Bun.spawnSync([...DROVER_CMD, 'verify', ...args], { env: { ...process.env, DROVER_URL: s.url, DROVER_TOKEN: s.token }, stdout: 'pipe', stderr: 'pipe' });
  return { code: p.exitCode, out: p.stdout.toString(), err: p.stderr.toString() };
}

test('result.json: effective config, hashes of job.sh and each rendered command, env names only, host, version, times, exit codes', () => {
  const job = result.jobs[0];
  const jobDir = run.stages[0].jobs[0].dir;
  expect(result.status).toBe('succeeded');
  expect(result.provenance).toMatchObject({ drover_version: pkg.version, host: hostname(), secret_names: ['PROV_TOKEN'] });
  expect(job.effective_config).toMatchObject({ executor: 'local', resources: { cpus: 1 }, device: { type: 'cpu' }, params: { who: "o'brien" } });
  expect(job.script_sha256).toBe(sha(readFileSync(join(jobDir, 'job.sh'))));
  expect(job.commands.map((c: any) => c.sha256)).toEqual([sha(`echo "$GREETING" ${shellQuote("o'brien")}`), sha('exit 3')]);
  expect(job.commands.map((c: any) => c.exit_code)).toEqual([0, 3]);
  for (const c of job.commands) expect(Date.parse(c.ended_at)).toBeGreaterThanOrEqual(Date.parse(c.started_at));
  expect(job.duration_s).toBeGreaterThanOrEqual(0);
  expect(job.env_names).toEqual(expect.arrayContaining(['GREETING', 'DROVER_PARAM_WHO', 'DROVER_RUN_ID', 'DROVER_OUTPUT', 'PROV_TOKEN']));
  const text = readFileSync(join(run.dir, 'result.json'), 'utf8');
  for (const value of ['hello there', SECRET]) expect(text).not.toContain(value);
  expect(statSync(join(s.dataDir, 'attestation.key')).mode & 0o777).toBe(0o600);
});

test('drover verify passes through the API and from the data dir', () => {
  const api = verify([run.id]);
  expect(api.code).toBe(0);
  expect(api.out).toContain(`ok: result.json of ${run.id}`);
  const offline = verify([run.id, '--data-dir', s.dataDir]);
  expect(offline.code).toBe(0);
});

test('one changed byte of result.json, or an edited attestation, fails it loudly (exit 1)', () => {
  const file = join(run.dir, 'result.json');
  const original = readFileSync(file);
  const flipped = Buffer.from(original);
  const at = flipped.indexOf('"succeeded"') + 2;
  flipped[at] = flipped[at]! ^ 0x20; // "Succeeded"
  writeFileSync(file, flipped);
  for (const args of [[run.id], [run.id, '--data-dir', s.dataDir]]) {
    const r = verify(args);
    expect(r.code).toBe(1);
    expect(r.err).toContain('verify FAILED');
    expect(r.err).toContain('changed after it was signed');
  }
  writeFileSync(file, original);
  expect(verify([run.id]).code).toBe(0);

  const attFile = join(run.dir, 'attestation.json');
  const att = readFileSync(attFile, 'utf8');
  const a = JSON.parse(att);
  writeFileSync(attFile, JSON.stringify({ ...a, signed_at: '2020-01-01T00:00:00.000Z' }));
  expect(verify([run.id]).code).toBe(1);
  writeFileSync(attFile, JSON.stringify({ ...a, sha256: sha(flipped), signature: a.signature }));
  writeFileSync(file, flipped);
  expect(verify([run.id, '--data-dir', s.dataDir]).code).toBe(1);
  writeFileSync(file, original);
  writeFileSync(attFile, att);
  expect(verify([run.id, '--data-dir', s.dataDir]).code).toBe(0);
});

test('a run without a signed result cannot be verified (exit 1)', async () => {
  const out = await s.submit({ name: 'prov-slow', stages: [{ name: 'a', commands: ['sleep 5'] }] });
  const r = verify([out.run.id]);
  expect(r.code).toBe(1);
  expect(r.err).toContain('verify FAILED');
  await s.api('POST', `/runs/${out.run.id}/cancel`);
});
