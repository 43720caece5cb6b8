// Mistakes say where and what (issue 13 part 6): each one gives its message and exit code (CLI) or
// 400 (API), and writes nothing — no run, no pipeline row.
import { test, expect, beforeAll, afterAll } from 'bun:test';
import { startServer, DROVER_CMD, type TestServer } from '../helpers/server.ts';

let s: TestServer;
beforeAll(async () => { s = await startServer(['--max-parallel', '2']); });
afterAll(() => s?.stop());

const drover = (...args: string[]) => s.cli(...args);
const specFile = (name: string, body: string) => s.specFile(name, body);

/** Nothing was written: no run and no pipeline. */
async function nothingWritten(): Promise<void> {
  expect((await s.api('GET', '/runs')).body.items).toEqual([]);
  expect((await s.api('GET', '/pipelines')).body.items).toEqual([]);
}

const SWEEP = 'name: sweep\nparams: {epochs: 3}\nmatrix: {lr: [0.1, 0.01]}\nstages:\n  - name: a\n    commands: ["echo ${{ params.lr }} ${{ params.epochs }}"]\n';

test('a YAML syntax error names line, column and shows the line', async () => {
  const r = drover('submit', specFile('syntax', 'name: p\nstages:\n  - name: a\n    commands: [x\n  - name: b\n'));
  expect(r.code).toBe(2);
  expect(r.err).toMatch(/line 5, column \d+/);
  expect(r.err).toContain('5 |   - name: b');
  expect(r.err).not.toMatch(/\n\s+at /); // no stack trace
  // the API says the same for a YAML body
  const api = await s.api('POST', '/pipelines', undefined, { raw: 'name: p\nstages: [\n', headers: { 'content-type': 'application/yaml' } });
  expect(api.status).toBe(400);
  expect(api.body.error.message).toMatch(/line \d+, column \d+/);
  await nothingWritten();
});

test('an unknown key gets a did-you-mean and its line', async () => {
  const r = drover('submit', specFile('typo', 'name: p\nstages:\n  - name: a\n    comands: ["echo hi"]\n'));
  expect(r.code).toBe(2);
  expect(r.err).toContain("unknown key 'comands' (did you mean 'commands'?)");
  expect(r.err).toMatch(/line 4/);
  const api = await s.api('POST', '/runs', { spec: { name: 'p', stagse: [] } });
  expect(api.status).toBe(400);
  expect(api.body.error.message).toContain("unknown key 'stagse' (did you mean 'stages'?)");
  await nothingWritten();
});

test('unknown stage in needs and unknown param in ${{ }} get a did-you-mean', async () => {
  const needs = await s.api('POST', '/runs', { spec: { name: 'p', stages: [{ name: 'build', commands: ['true'] }, { name: 'b', needs: ['biuld'], commands: ['true'] }] } });
  expect(needs.status).toBe(400);
  expect(needs.body.error.message).toContain("unknown stage 'biuld' in stages[1].needs (did you mean 'build'?)");
  const param = await s.api('POST', '/runs', { spec: { name: 'p', params: { epochs: 1 }, stages: [{ name: 'a', commands: ['echo ${{ params.epoch }}'] }] } });
  expect(param.status).toBe(400);
  expect(param.body.error.message).toContain("unknown param 'epoch' (did you mean 'epochs'?)");
  await nothingWritten();
});

test('a command YAML reads as a mapping says to quote it', async () => {
  const r = drover('submit', specFile('colon', 'name: p\nstages:\n  - name: a\n    commands:\n      - echo "a: b"\n'));
  expect(r.code).toBe(2);
  expect(r.err).toContain('YAML read this command as a mapping');
  expect(r.err).toContain(`quote the whole command: - 'echo "a: b"'`);
  await nothingWritten();
});

test('--param naming no param is refused with a suggestion (CLI exit 2, API 400)', async () => {
  const r = drover('submit', specFile('sweep', SWEEP), '--param', 'epoch=5');
  expect(r.code).toBe(2);
  expect(r.err).toContain("unknown param 'epoch' (did you mean 'epochs'?)");
  const api = await s.api('POST', '/runs', { spec: { name: 'p', params: { epochs: 1 }, stages: [{ name: 'a', commands: ['true'] }] }, params: { epoch: 2 } });
  expect(api.status).toBe(400);
  expect(api.body.error.code).toBe('invalid_request');
  await nothingWritten();
});

test('--param on a matrix axis is refused; --matrix replaces the axis', async () => {
  const f = specFile('sweep', SWEEP);
  const r = drover('submit', f, '--param', 'lr=0.5');
  expect(r.code).toBe(2);
  expect(r.err).toContain("param 'lr' is a matrix axis");
  expect(r.err).toContain('--matrix lr=');
  await nothingWritten();
  const bad = drover('submit', f, '--matrix', 'rl=1,2');
  expect(bad.code).toBe(2);
  expect(bad.err).toContain("did you mean 'lr'?");
  const ok = drover('submit', f, '--matrix', 'lr=0.5,0.25,0.125', '--param', 'epochs=1', '--dry-run', '--json');
  expect(ok.code).toBe(0);
  const preview = JSON.parse(ok.out);
  expect(preview.runs).toBe(3);
  expect(preview.matrix).toEqual([{ epochs: 1, lr: 0.5 }, { epochs: 1, lr: 0.25 }, { epochs: 1, lr: 0.125 }]);
  await nothingWritten();
});

test('with --json, errors are one JSON object on stderr', async () => {
  const r = drover('submit', specFile('typo2', 'name: p\nstages:\n  - name: a\n    comands: ["echo hi"]\n'), '--json');
  expect(r.code).toBe(2);
  const e = JSON.parse(r.err);
  expect(e.error.code).toBe('invalid_spec');
  expect(e.error.message).toContain("did you mean 'commands'?");
  expect(e.error.details.path).toBe('stages[0].comands');
  expect(e.error.details.line).toBe(4);
  const usage = drover('status', 'nonsense', '--json');
  expect(usage.code).toBe(2);
  expect(JSON.parse(usage.err).error.message).toContain('not a valid id');
  const cmd = drover('stauts', '--json');
  expect(cmd.code).toBe(2);
  expect(JSON.parse(cmd.err).error.message).toContain("unknown command 'stauts' (did you mean 'status'?)");
  await nothingWritten();
});

test('a closed stdout ends quietly for every command', async () => {
  await s.submit({ name: 'pipe', stages: [{ name: 'a', commands: ['true'] }] });
  for (const args of [['ls'], ['ls', 'jobs'], ['queue'], ['pipelines'], ['--help'], ['ls', '--json']]) {
    const p = Bun.spawnSync(['bash', '-c', `"$@" | true; echo "rc=\${PIPESTATUS[0]}" >&2`, 'x', ...DROVER_CMD, ...args], { cwd: s.root, env: { ...process.env, DROVER_DATA_DIR: s.dataDir } });
    const err = p.stderr.toString();
    expect(err).toMatch(/rc=(0|141)\n$/);
    expect(err).not.toMatch(/EPIPE|internal error|\n\s+at /);
  }
});

test('logs of a job that never started says so; why of a skipped job names the stage', async () => {
  const res = await s.submit({ name: 'skip', stages: [{ name: 'build', commands: ['false'] }, { name: 'test', needs: ['build'], commands: ['echo never'] }] });
  const run = await s.waitRun(res.run.id);
  expect(run.status).toBe('failed');
  const skipped = run.stages[1].jobs[0];
  expect(skipped.status).toBe('skipped');
  const logs = drover('logs', skipped.id);
  expect(logs.code).toBe(0);
  expect(logs.err).toContain(`job ${skipped.id} never started (status skipped)`);
  const why = drover('why', skipped.id);
  expect(why.code).toBe(0);
  expect(why.out).toContain("needed stage 'build' failed");
  const api = await s.api('GET', `/jobs/${skipped.id}/why`);
  expect(api.body).toMatchObject({ blocked: false, status: 'skipped' }); // it will never run: not waiting
  expect(api.body.reasons[0]).toMatchObject({ code: 'upstream_failed', stages: ['build'] });
});
