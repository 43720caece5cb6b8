// Issue 14, also noticed: log copiers are keyed by job AND attempt. A late end of attempt N (a slow
// poll, a re-adoption) must not take — drain, and so end — the copier of attempt N+1.
import { test, expect } from 'bun:test';
import { mkdtempSync, mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { CopierPool } from '../../src/core/redact/pool.ts';
import { Redactor } from '../../src/core/redact/redactor.ts';
import type { SecretsView } from '../../src/core/secrets/types.ts';
import type { Observation, PreparedJob } from '../../src/core/ports.ts';

const values: Record<string, string> = { TOK: 'attempt-key-secret-1' };
const secrets: SecretsView = {
  missing: () => [],
  values: (names) => Object.fromEntries(names.filter((n) => n in values).map((n) => [n, values[n]!])),
  redactor: (extra) => new Redactor(Object.entries({ ...values, ...extra }).map(([name, value]) => ({ name, value }))),
  redactText: (s) => s,
};

test('a late end of attempt 1 leaves attempt 2\'s copier running', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'drover-attempts-'));
  mkdirSync(join(dir, 'raw')); mkdirSync(join(dir, 'logs'));
  const pool = new CopierPool({ secrets, maxLogSize: null, dirOf: () => dir });
  const job = (attempt: number): PreparedJob => ({ id: 'j_x', runId: 'r_x', attempt, name: 'job', dir, script: join(dir, 'job.sh'), workdir: dir, commandCount: 1, resources: { fallback: 'cpu' }, env: {}, timeoutMs: null, rawLogs: true });
  pool.started(job(2));
  writeFileSync(join(dir, 'raw', '0.log'), `second attempt ${values.TOK}\n`);
  const lateEnd: Observation = { jobId: 'j_x', attempt: 1, state: 'exited', result: { rc: 1, commands: [{ exit_code: 1, started_at: null, ended_at: null, log_size: 0 }], outputs: {} } };
  let resumed = false;
  const now = pool.pass(lateEnd, () => { resumed = true; });
  await Bun.sleep(100);
  expect(now).toBe(true); // nothing of attempt 1 to drain: applied (and refused by the engine's attempt check)
  expect(resumed).toBe(false);
  expect(pool.active).toBe(1); // attempt 2 still has its copier
  expect(existsSync(join(dir, 'raw'))).toBe(true); // and its raw output was not removed under it
  const end: Observation = { ...lateEnd, attempt: 2 } as Observation;
  const done = new Promise<void>((r) => pool.pass(end, () => r()));
  await done;
  expect(pool.active).toBe(0);
  expect(existsSync(join(dir, 'raw'))).toBe(false);
  pool.stop();
});
