// Issue 14 #2: the workspace is checked where the job runs. job.sh enters the workspace with `cd -P`
// and refuses to run any command when the physical directory is outside the workspace root (a symlink
// flipped after the server's check): the attempt fails with reason workspace_escape. The same script
// runs under every executor (local, gpu, slurm; agents get the portable form, checked against
// $DROVER_WORKSPACE_ROOT), so it is tested here as a real bash process, then through a real server.
import { test, expect, afterAll } from 'bun:test';
import { mkdirSync, symlinkSync, rmSync, renameSync, writeFileSync, existsSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { renderScript } from '../../src/runner/script.ts';
import { readJobResult } from '../../src/runner/meta.ts';
import { verdictOf } from '../../src/core/scheduler/runner-report.ts';
import { tempDir, startServer, oneStage, type TestServer } from '../helpers/server.ts';

const servers: TestServer[] = [];
afterAll(async () => { for (const s of servers) await s.stop(); });

function layout() {
  const base = realpathSync(tempDir('drover-ws-race-'));
  const root = join(base, 'root');
  const outside = join(base, 'outside');
  mkdirSync(join(root, 'inside'), { recursive: true });
  mkdirSync(outside);
  symlinkSync(join(root, 'inside'), join(root, 'ws'));
  const flip = (to: string) => { const tmp = join(root, 'ws.tmp'); rmSync(tmp, { force: true }); symlinkSync(to, tmp); renameSync(tmp, join(root, 'ws')); };
  return { base, root, outside, flip };
}

function jobDir(base: string, name: string) {
  const dir = join(base, name);
  mkdirSync(join(dir, 'logs'), { recursive: true });
  mkdirSync(join(dir, 'meta'));
  return dir;
}

const run = (dir: string, env: Record<string, string> = {}) => Bun.spawnSync(['bash', join(dir, 'job.sh')], { env: { PATH: process.env.PATH!, ...env } }).exitCode;

test('job.sh refuses a workspace that resolves outside the root when it starts (local and slurm form)', () => {
  const { base, root, outside, flip } = layout();
  const commands = [{ run: 'pwd -P > where; touch ran', allow_failure: false }];
  const script = (dir: string) => renderScript({ jobId: 'j_test', attempt: 1, dir, workdir: join(root, 'ws'), root, env: {}, commands });

  const ok = jobDir(base, 'ok');
  writeFileSync(join(ok, 'job.sh'), script(ok));
  expect(run(ok)).toBe(0);
  expect(readFileSync(join(root, 'inside', 'where'), 'utf8').trim()).toBe(join(root, 'inside'));
  expect(readJobResult(ok, 1).refused).toBeUndefined();

  flip(outside); // after the server's check, before the runner's cd
  const bad = jobDir(base, 'bad');
  writeFileSync(join(bad, 'job.sh'), script(bad));
  expect(run(bad)).toBe(126);
  expect(existsSync(join(outside, 'ran'))).toBe(false);
  const r = readJobResult(bad, 1);
  expect(r.refused?.reason).toBe('workspace_escape');
  expect(r.refused?.message).toContain(outside);
  expect(verdictOf(r)).toEqual({ status: 'failed', reason: 'workspace_escape', message: r.refused!.message });
  expect(readFileSync(join(bad, 'logs', '0.log'), 'utf8')).toContain('outside the workspace root');
});

test('the portable script (agents) checks against $DROVER_WORKSPACE_ROOT', () => {
  const { base, root, outside, flip } = layout();
  const commands = [{ run: 'touch ran', allow_failure: false }];
  const text = renderScript({ jobId: 'j_test', attempt: 1, dir: null, workdir: null, env: {}, commands });
  const env = (dir: string) => ({ DROVER_JOB_DIR: dir, DROVER_WORKDIR: join(root, 'ws'), DROVER_WORKSPACE_ROOT: root });
  const ok = jobDir(base, 'ok');
  writeFileSync(join(ok, 'job.sh'), text);
  expect(run(ok, env(ok))).toBe(0);
  expect(existsSync(join(root, 'inside', 'ran'))).toBe(true);
  flip(outside);
  const bad = jobDir(base, 'bad');
  writeFileSync(join(bad, 'job.sh'), text);
  expect(run(bad, env(bad))).toBe(126);
  expect(existsSync(join(outside, 'ran'))).toBe(false);
  expect(readJobResult(bad, 1).refused?.reason).toBe('workspace_escape');
});

test('racing a symlink flip against job starts: no job ever runs outside the root; refused ones fail workspace_escape', async () => {
  const { root, outside, flip } = layout();
  const s = await startServer(['--max-parallel', '4'], { root });
  servers.push(s);
  let flipping = true;
  const flipper = (async () => { let i = 0; while (flipping) { try { flip(i++ % 2 ? outside : join(root, 'inside')); } catch { /* racing */ } await Bun.sleep(1); } })();
  const ids: string[] = [];
  for (let i = 0; i < 24; i++) {
    flip(join(root, 'inside'));
    const r = await s.api('POST', '/runs', { spec: oneStage(`race-${i}`, ['touch ran-$DROVER_RUN_ID'], { workspace: 'ws' }) });
    if (r.status === 201) ids.push(r.body.run.id);
  }
  const runs = await Promise.all(ids.map((id) => s.waitRun(id)));
  flipping = false;
  await flipper;
  const counts: Record<string, number> = {};
  for (const r of runs) {
    const j = r.stages[0].jobs[0];
    counts[`${r.status}/${j.reason}`] = (counts[`${r.status}/${j.reason}`] ?? 0) + 1;
    expect(existsSync(join(outside, `ran-${r.id}`))).toBe(false);
    if (r.status !== 'succeeded') expect(['workspace_escape']).toContain(j.reason);
  }
  console.log('racing runs:', JSON.stringify(counts));
}, 120_000);
