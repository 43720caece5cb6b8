// The CLI against a real server: submit --wait, status, logs, why, graph, queue, ls, cancel, dry-run,
// and the exit codes (0 ok, 1 the run failed, 2 usage/refused input).
import { test, expect, beforeAll, afterAll } from 'bun:test';
import { startServer, type TestServer } from '../helpers/server.ts';

let s: TestServer;
beforeAll(async () => { s = await startServer(['--max-parallel', '2']); });
afterAll(() => s?.stop());

const drover = (...args: string[]) => s.cli(...args);
const specFile = (name: string, body: string) => s.specFile(name, body);

test('submit --wait prints the run id and exits 0; status, logs, why, graph and ls show it', () => {
  const f = specFile('ok', 'name: cli-ok\nstages:\n  - name: a\n    jobs:\n      - name: j\n        commands: ["echo hello cli"]\n');
  const sub = drover('submit', f, '--wait');
  expect(sub.code).toBe(0);
  const runId = sub.out.trim().split(/\s+/)[0]!;
  expect(runId).toMatch(/^r_/);
  const st = drover('status', runId, '--json');
  expect(st.code).toBe(0);
  const run = JSON.parse(st.out);
  expect(run.status).toBe('succeeded');
  expect(run.trigger.kind).toBe('manual');
  const jobId = run.stages[0].jobs[0].id;
  expect(drover('logs', jobId).out).toBe('hello cli\n');
  const why = JSON.parse(drover('why', jobId, '--json').out);
  expect(why.blocked).toBe(false);
  expect(drover('graph', runId, '--format', 'mermaid').out).toContain('graph LR');
  expect(drover('ls', 'runs').out).toContain(runId);
  const q = JSON.parse(drover('queue', '--json').out);
  expect(q.daemon.pid).toBe(s.proc.pid);
});

test('submit --wait of a failing run exits 1; a bad spec exits 2 with a one-line message', () => {
  const bad = specFile('fails', 'name: cli-fail\nstages:\n  - name: a\n    jobs:\n      - name: j\n        commands: ["exit 4"]\n');
  expect(drover('submit', bad, '--wait').code).toBe(1);
  const invalid = specFile('invalid', 'name: cli-bad\nbogus: 1\nstages: []\n');
  const r = drover('submit', invalid);
  expect(r.code).toBe(2);
  expect(r.err.trim().split('\n').length).toBe(1);
  expect(r.err).toContain('bogus');
});

test('submit --dry-run of a sweep shows the runs and queues nothing', () => {
  const f = specFile('sweep', 'name: cli-sweep\nmatrix: { lr: [1, 2, 3] }\nstages:\n  - name: a\n    jobs:\n      - name: j\n        resources: { cpus: 2, time: 1h }\n        commands: ["echo ${{ params.lr }}"]\n');
  const before = JSON.parse(drover('ls', 'runs', '--json').out).items.length;
  const r = drover('submit', f, '--dry-run', '--json');
  expect(r.code).toBe(0);
  const p = JSON.parse(r.out);
  expect(p.runs).toBe(3);
  expect(p.cpu_hours).toBe(6);
  expect(JSON.parse(drover('ls', 'runs', '--json').out).items.length).toBe(before);
});

test('a token on the command line is refused', () => {
  const r = drover('ls', '--token', 'abc');
  expect(r.code).toBe(2);
  expect(r.err).toContain('ps');
});
