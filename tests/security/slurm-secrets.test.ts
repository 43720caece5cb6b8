// Secrets through Slurm (#7): with a fake Slurm at the process boundary (sbatch records its arguments,
// environment and batch script, then runs the script as Slurm would; squeue lists nothing, sacct is
// off), a job with a secret gets its value, while sbatch's arguments, environment and script — which
// Slurm keeps in its accounting database — never hold it, and the stored log is redacted.
import { test, expect, beforeAll, afterAll } from 'bun:test';
import { mkdirSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { startServer, tempDir, type TestServer } from '../helpers/server.ts';
import { expectNoLeak } from './helpers.ts';

const VALUE = 'slurm-side-secret-Kq7';
let s: TestServer;
let bin: string, record: string;

beforeAll(async () => {
  const dir = tempDir('drover-fake-slurm-');
  bin = join(dir, 'bin');
  record = join(dir, 'sbatch.record');
  mkdirSync(bin);
  const script = (body: string) => `#!/bin/bash\n${body}\n`;
  writeFileSync(join(bin, 'sbatch'), script([
    `{ printf 'ARGV:'; printf ' %q' "$@"; echo; echo 'ENV:'; env; echo 'SCRIPT:'; cat "\${@: -1}"; } >> ${JSON.stringify(record)}`,
    'id=$((RANDOM + 1000))',
    'SLURM_JOB_ID=$id setsid bash "${@: -1}" >/dev/null 2>&1 </dev/null &',
    `echo $! > ${JSON.stringify(bin)}/job-$id.pid`,
    'echo "$id"',
  ].join('\n')), { mode: 0o755 });
  // RUNNING while the job's process lives (a loaded machine may take longer than the missing-grace to run it)
  writeFileSync(join(bin, 'squeue'), script(`for f in ${JSON.stringify(bin)}/job-*.pid; do [ -e "$f" ] || continue; id=\${f##*/job-}; id=\${id%.pid}; kill -0 "$(cat "$f")" 2>/dev/null && echo "$id|$id|N/A|RUNNING|None|0|"; done; exit 0`), { mode: 0o755 });
  writeFileSync(join(bin, 'scancel'), script('exit 0'), { mode: 0o755 });
  writeFileSync(join(bin, 'sacct'), script('echo "Slurm accounting storage is disabled" >&2; exit 1'), { mode: 0o755 });
  const env = { DROVER_SLURM_PATH: `${bin}:/usr/bin:/bin`, DROVER_SLURM_MISSING_GRACE_MS: '300', DROVER_SLURM_POLL_MIN_MS: '200', DROVER_SLURM_POLL_MAX_MS: '400' };
  Object.assign(process.env, env); // the server inherits these; other tests' servers must not
  try { s = await startServer(['--max-parallel', '2']); } finally { for (const k of Object.keys(env)) delete process.env[k]; }
});
afterAll(() => s?.stop());

test('a Slurm job gets its secret; sbatch\'s arguments, environment and script never hold it; its log is redacted', async () => {
  await s.api('PUT', '/secrets/SLURM_TOK', { value: VALUE });
  const sha = createHash('sha256').update(VALUE).digest('hex');
  const out = await s.submit({ name: 'slurm-secret', secrets: ['SLURM_TOK'], stages: [{ name: 'a', jobs: [{ name: 'j', executor: 'slurm', commands: [
    `[ "$(printf %s "$SLURM_TOK" | sha256sum | cut -c1-64)" = "${sha}" ] || exit 9; echo "on the node: $SLURM_TOK"`,
  ] }] }] });
  const run = await s.waitRun(out.run.id, undefined, 60_000);
  expect(run.status).toBe('succeeded');
  const job = run.stages[0].jobs[0];
  expect((await s.api('GET', `/jobs/${job.id}/logs`)).text).toBe('on the node: [REDACTED:SLURM_TOK]\n');
  const rec = readFileSync(record, 'utf8');
  expect(rec).toContain('ARGV:');
  expect(rec.split('\n').find((l) => l.startsWith('ARGV:'))).toContain('--no-requeue'); // never rerun by Slurm without its secrets
  expect(rec).toContain('exec /bin/bash "$__D/job.sh"');
  expectNoLeak(rec, VALUE, 'what sbatch got');
  expectNoLeak(readFileSync(join(job.dir, 'job.sh')), VALUE, 'job.sh');
  expect(existsSync(join(job.dir, '.secrets'))).toBe(false);
});
