// Safe paths and commands (#7): workspaces stay under the workspace root (symlinks and `..`
// included, at submit and again at job start), and the pre-exec validator refuses deleting /, ~, the
// workspace root or anything outside it — naming the rule — before anything runs, unless the
// pipeline's validator.allow lists the command.
import { test, expect, describe, afterAll } from 'bun:test';
import { mkdirSync, symlinkSync, writeFileSync, existsSync, renameSync, mkdtempSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { homedir, tmpdir } from 'node:os';
import { commandRefusal } from '../../src/core/spec/validator.ts';
import { startServer, oneStage, waitFor, type TestServer } from '../helpers/server.ts';

describe('commandRefusal', () => {
  const root = mkdtempSync(join(tmpdir(), 'drover-root-'));
  const ws = join(root, 'ws');
  mkdirSync(ws);
  const ctx = { workspaceRoot: root, workdir: ws, home: homedir() };
  const cases: [string, string | null][] = [
    ['rm -rf /', 'rm_root'],
    ['rm -rf ../..', 'rm_workspace_root'],
    ['rm -rf ../../..', 'rm_root'],
    ['cd x; rm -rf ../../elsewhere', 'rm_outside_workspace'],
    ['rm -rf ..', 'rm_workspace_root'],
    ['rm -rf ~', 'rm_home'],
    ['rm -rf ~/', 'rm_home'],
    ['rm -rf "$HOME"', 'rm_home'],
    ['rm -rf ${HOME}/*', 'rm_outside_workspace'],
    ['rm -fr -- "$DROVER_WORKDIR"', 'rm_workspace'],
    ['sudo rm -r /etc/passwd', 'rm_outside_workspace'],
    ['echo hi && /bin/rm -rf /tmp/elsewhere', 'rm_outside_workspace'],
    ['find /var/tmp -name x -delete', 'rm_outside_workspace'],
    ['find .. -exec rm {} +', 'rm_workspace_root'],
    [`rm -rf '${root}'`, 'rm_workspace_root'],
    [':(){ :|:& };:', 'fork_bomb'],
    // allowed: inside the workspace (or a sibling under the root), or not a deletion at all
    ['rm -rf build', null],
    ['rm -rf ./build ../ws/tmp', null],
    ['rm -rf ../sibling', null],
    [`rm -rf '${join(root, 'other')}'`, null],
    ['rm -rf "$TMPDIR/x"', null],
    ['echo "rm -rf /"', null],
    ['grep -r rm .', null],
    ['find . -name "*.o" -delete', null],
  ];
  test.each(cases)('%j → %p', (cmd, rule) => {
    expect(commandRefusal(cmd, ctx)?.rule ?? null).toBe(rule);
  });
  test('an allow-list regex lets a command through', () => {
    expect(commandRefusal('rm -rf /tmp/scratch-1', { ...ctx, allow: ['^rm -rf /tmp/scratch-\\d+$'] })).toBeNull();
  });
});

let s: TestServer;
const outside = mkdtempSync(join(tmpdir(), 'drover-outside-'));
afterAll(async () => { await s?.stop(); });

const refused = async (spec: object, params?: object) => {
  const r = await s.api('POST', '/runs', { spec, ...(params ? { params } : {}) });
  return { status: r.status, code: r.body?.error?.code, rule: r.body?.error?.details?.rule, message: r.body?.error?.message ?? '' };
};

describe('against a real server', () => {
  test('setup', async () => {
    s = await startServer(['--max-parallel', '2']);
    mkdirSync(join(s.root, 'ws'));
    writeFileSync(join(outside, 'canary'), 'still here');
    symlinkSync(outside, join(s.root, 'ws', 'out-link'));
    symlinkSync(outside, join(s.root, 'link-out'));
  });

  test('a workspace through a symlink pointing out, or `..` out of the root, is a 400 workspace_escape; nothing runs', async () => {
    const marker = join(outside, 'ran');
    for (const workspace of ['link-out', 'ws/out-link', '..', '../..', 'ws/../../x', { path: '../new', create: true }]) {
      const r = await refused(oneStage('escape', [`touch ${marker}`], { workspace }));
      expect(`${JSON.stringify(workspace)}: ${r.status} ${r.code}`).toBe(`${JSON.stringify(workspace)}: 400 workspace_escape`);
    }
    expect((await s.api('GET', '/runs?pipeline=escape')).body.items).toEqual([]);
    expect(existsSync(marker)).toBe(false);
  });

  test('rm -rf /, ~, the workspace root and paths outside it are a 400 rejected_by_validator naming the rule', async () => {
    const cases: [string, Record<string, unknown>, string][] = [
      ['rm -rf /', {}, 'rm_root'],
      ['rm -rf ../..', { workspace: 'ws' }, 'rm_workspace_root'],
      ['rm -rf ..', { workspace: 'ws' }, 'rm_workspace_root'],
      [`rm -rf ${outside}`, { workspace: 'ws' }, 'rm_outside_workspace'],
      ['rm -rf ../../../../../../elsewhere', {}, 'rm_outside_workspace'],
      ['rm -rf ../../..', {}, 'rm_workspace'], // without a workspace: the data dir, which holds the run's work dir
      ['rm -rf ../../../..', {}, 'rm_workspace_root'], // (runs/<run>/work: four levels up is the root)
      ['rm -rf ~', {}, 'rm_home'],
      ['rm -rf out-link/', { workspace: 'ws' }, 'rm_outside_workspace'],
    ];
    for (const [cmd, extra, rule] of cases) {
      const r = await refused(oneStage('danger', ['echo first', cmd], extra));
      expect(`${cmd}: ${r.status} ${r.code} ${r.rule}`).toBe(`${cmd}: 400 rejected_by_validator ${rule}`);
      expect(r.message).toContain(rule);
      expect(r.message).toContain('stages[0].jobs[0].commands[1]');
    }
    expect(existsSync(join(outside, 'canary'))).toBe(true);
  });

  test('validator.allow lets a refused command run', async () => {
    const scratch = join(outside, 'scratch');
    mkdirSync(scratch);
    const spec = oneStage('allowed', [`rm -rf ${scratch}`], { workspace: 'ws' });
    expect((await refused(spec)).rule).toBe('rm_outside_workspace');
    const out = await s.submit({ ...spec, validator: { allow: [`^rm -rf ${outside.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/scratch$`] } });
    expect((await s.waitRun(out.run.id)).status).toBe('succeeded');
    expect(existsSync(scratch)).toBe(false);
    expect((await refused({ ...spec, validator: { allow: ['(unclosed'] } })).code).toBe('invalid_spec');
  });

  test('a param that renders into a refused command fails the job before it runs', async () => {
    const spec = oneStage('param-rm', ['rm -rf ${{ params.target }}'], { workspace: 'ws', params: { target: 'build' } });
    const out = await s.submit(spec, { params: { target: '../..' } });
    const run = await s.waitRun(out.run.id);
    const job = run.stages[0].jobs[0];
    expect(run.status).toBe('failed');
    expect(job.reason).toBe('rejected_by_validator');
    expect(job.message).toContain('rm_workspace_root');
    expect(job.commands[0].exit_code).toBeNull(); // never ran
    expect(existsSync(join(s.root, 'ws'))).toBe(true);
    const ok = await s.submit(spec);
    expect((await s.waitRun(ok.run.id)).status).toBe('succeeded');
  });

  test('a workspace swapped for a symlink pointing out after the submit fails the next job (workspace_escape)', async () => {
    mkdirSync(join(s.root, 'ws2'));
    const out = await s.submit({ name: 'swap', workspace: 'ws2', stages: [
      { name: 'a', commands: ['touch a-started; sleep 1'] },
      { name: 'b', needs: ['a'], commands: ['touch escaped-here'] },
    ] });
    // swapped once stage a runs inside (before, its own runner refuses the link: workspace_escape too)
    await waitFor(() => existsSync(join(s.root, 'ws2', 'a-started')));
    renameSync(join(s.root, 'ws2'), join(s.root, 'ws2-moved'));
    symlinkSync(outside, join(s.root, 'ws2'));
    const run = await s.waitRun(out.run.id);
    expect(run.stages[1].jobs[0].reason).toBe('workspace_escape');
    expect(readdirSync(outside)).not.toContain('escaped-here');
  });
});
