// Pipelines end to end through the real HTTP API of a real `drover serve` process: commands, logs,
// failures and skips, allow_failure, outputs between stages, fan-in merge policies, params quoting,
// timeouts, cancel, retries, graphs, dry runs, idempotency, paging and the status event feed.
import { test, expect, beforeAll, afterAll, describe } from 'bun:test';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, waitFor, type TestServer } from '../helpers/server.ts';

let s: TestServer;

beforeAll(async () => {
  s = await startServer(['--max-parallel', '4', '--kill-grace', '1s']);
});
afterAll(async () => {
  await s?.stop();
});

const TERMINAL = ['succeeded', 'failed', 'canceled'];

/** Submit a single-run spec and wait until the run is terminal. */
async function runToEnd(spec: object, extra: Record<string, unknown> = {}, timeoutMs = 30_000) {
  const out = await s.submit(spec, extra);
  expect(out.run).toBeDefined();
  return s.waitRun(out.run.id, (r) => TERMINAL.includes(r.status), timeoutMs);
}

function stage(run: any, name: string) {
  const st = run.stages.find((x: any) => x.name === name);
  if (!st) throw new Error(`run ${run.id} has no stage ${name}: ${JSON.stringify(run.stages.map((x: any) => x.name))}`);
  return st;
}

async function commandLog(jobId: string, command?: number) {
  const q = command === undefined ? '' : `?command=${command}`;
  const r = await s.api('GET', `/jobs/${jobId}/logs${q}`);
  expect(r.status).toBe(200);
  return r;
}

/** A fresh workspace directory under the server's workspace root (absolute path). */
function workspace(name: string): string {
  const dir = join(s.root, 'ws', `${name}-${Math.random().toString(36).slice(2, 8)}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

async function allRuns(query = ''): Promise<any[]> {
  const r = await s.api('GET', `/runs?limit=1000${query}`);
  expect(r.status).toBe(200);
  return r.body.items;
}

describe('pipelines through the HTTP API', () => {
  test('all commands succeed: run, stages and jobs succeeded; exit codes 0; per-command logs', async () => {
    const spec = {
      name: 'all-ok',
      stages: [
        { name: 'first', jobs: [{ name: 'one', commands: ['echo alpha', 'printf "beta\\ngamma\\n"'] }, { name: 'two', commands: ['echo two'] }] },
        { name: 'second', needs: ['first'], jobs: [{ name: 'three', commands: ['echo three-a', 'echo three-b 1>&2', 'true'] }] },
      ],
    };
    const run = await runToEnd(spec);
    expect(run.status).toBe('succeeded');
    expect(run.stages.map((x: any) => x.status)).toEqual(['succeeded', 'succeeded']);
    const jobs = run.stages.flatMap((x: any) => x.jobs);
    expect(jobs).toHaveLength(3);
    for (const j of jobs) {
      expect(j.status).toBe('succeeded');
      expect(j.exit_code).toBe(0);
      for (const c of j.commands) expect(c.exit_code).toBe(0);
    }

    const expected: Record<string, string[]> = {
      one: ['alpha\n', 'beta\ngamma\n'],
      two: ['two\n'],
      three: ['three-a\n', 'three-b\n', ''],
    };
    for (const j of jobs) {
      const want = expected[j.name]!;
      expect(j.commands).toHaveLength(want.length);
      for (let i = 0; i < want.length; i++) {
        const log = await commandLog(j.id, i);
        expect(log.text).toBe(want[i]!);
        expect(log.headers.get('x-log-size')).toBe(String(Buffer.byteLength(want[i]!)));
      }
      // the whole job log is the commands' logs in order
      const whole = await commandLog(j.id);
      expect(whole.text).toBe(want.join(''));
      expect(whole.headers.get('x-log-size')).toBe(String(Buffer.byteLength(want.join(''))));
    }
  });

  test('a failing command fails its job, stage and run; the later stage and its job are skipped; later commands do not run', async () => {
    const ws = workspace('fail');
    const spec = {
      name: 'fails',
      workspace: ws,
      stages: [
        { name: 'build', jobs: [{ name: 'compile', commands: ['echo before', 'exit 3', 'echo after > after.txt; echo after'] }] },
        { name: 'deploy', needs: ['build'], jobs: [{ name: 'ship', commands: ['echo shipped > shipped.txt'] }] },
      ],
    };
    const run = await runToEnd(spec);
    expect(run.status).toBe('failed');
    const build = stage(run, 'build');
    const deploy = stage(run, 'deploy');
    expect(build.status).toBe('failed');
    const job = build.jobs[0];
    expect(job.status).toBe('failed');
    expect(job.reason).toBe('exit_code');
    expect(job.exit_code).toBe(3);
    expect(job.commands[0].exit_code).toBe(0);
    expect(job.commands[1].exit_code).toBe(3);
    // the command after the failing one never ran
    expect(job.commands[2].exit_code).toBeNull();
    expect(job.commands[2].started_at).toBeNull();
    expect(existsSync(join(ws, 'after.txt'))).toBe(false);
    expect((await commandLog(job.id)).text).toBe('before\n');
    expect((await commandLog(job.id, 2)).text).toBe('');

    expect(deploy.status).toBe('skipped');
    expect(deploy.jobs[0].status).toBe('skipped');
    expect(existsSync(join(ws, 'shipped.txt'))).toBe(false);
  });

  test('allow_failure lets the job go on and succeed', async () => {
    const run = await runToEnd({
      name: 'allow-failure',
      stages: [{ name: 'main', jobs: [{ name: 'job', commands: [{ run: 'echo trying; exit 7', allow_failure: true }, 'echo went on'] }] }],
    });
    expect(run.status).toBe('succeeded');
    const job = run.stages[0].jobs[0];
    expect(job.status).toBe('succeeded');
    expect(job.commands[0].exit_code).not.toBe(0);
    expect(job.commands[0].exit_code).toBe(7);
    expect(job.commands[1].exit_code).toBe(0);
    expect((await commandLog(job.id, 1)).text).toBe('went on\n');
  });

  test('build → test passes an output through ${{ needs.build.outputs.rev }}', async () => {
    const run = await runToEnd({
      name: 'outputs',
      stages: [
        { name: 'build', jobs: [{ name: 'b', commands: ['echo rev=abc >> $DROVER_OUTPUT'] }] },
        { name: 'test', needs: ['build'], jobs: [{ name: 't', commands: ['echo got ${{ needs.build.outputs.rev }}'] }] },
      ],
    });
    expect(run.status).toBe('succeeded');
    expect(stage(run, 'build').outputs).toEqual({ rev: 'abc' });
    const t = stage(run, 'test').jobs[0];
    expect((await commandLog(t.id, 0)).text).toBe('got abc\n');
  });

  describe('fan-in of outputs with the same key', () => {
    const fanIn = (merge: string, cmd: string) => ({
      name: `fan-in-${merge}`,
      stages: [
        { name: 'a', jobs: [{ name: 'ja', commands: ['echo k=1 >> $DROVER_OUTPUT'] }] },
        { name: 'b', jobs: [{ name: 'jb', commands: ['echo k=2 >> $DROVER_OUTPUT'] }] },
        { name: 'c', needs: ['a', 'b'], merge, jobs: [{ name: 'jc', commands: [cmd] }] },
      ],
    });

    test('merge: fail → the job fails with output_conflict naming the key', async () => {
      const run = await runToEnd(fanIn('fail', 'echo should not run'));
      expect(stage(run, 'a').status).toBe('succeeded');
      expect(stage(run, 'b').status).toBe('succeeded');
      const c = stage(run, 'c');
      const job = c.jobs[0];
      expect(job.status).toBe('failed');
      expect(job.reason).toBe('output_conflict');
      expect(job.message).toMatch(/\bk\b/);
      expect(job.message).toContain("'k'");
      expect(c.status).toBe('failed');
      expect(run.status).toBe('failed');
    });

    test('merge: list → DROVER_INPUT_K is a JSON list of both values', async () => {
      const run = await runToEnd(fanIn('list', 'echo "$DROVER_INPUT_K"'));
      expect(run.status).toBe('succeeded');
      const job = stage(run, 'c').jobs[0];
      const text = (await commandLog(job.id, 0)).text;
      expect(text).toBe('["1","2"]\n');
      expect(JSON.parse(text)).toEqual(['1', '2']);
    });
  });

  test('a param with spaces, quotes, $HOME, backticks and ; arrives intact and runs nothing', async () => {
    const ws = workspace('params');
    const value = `two  spaces "dq" 'sq' $HOME \`touch pwned-bt\` $(touch pwned-sub); touch pwned-semi && echo nope`;
    const run = await runToEnd({
      name: 'params-quoting',
      workspace: ws,
      params: { name: 'default' },
      stages: [{ name: 'main', jobs: [{ name: 'job', commands: ['echo ${{ params.name }}', 'printf "%s" "$DROVER_PARAM_NAME"'] }] }],
    }, { params: { name: value } });
    expect(run.status).toBe('succeeded');
    expect(run.params.name).toBe(value);
    const job = run.stages[0].jobs[0];
    expect((await commandLog(job.id, 0)).text).toBe(value + '\n');
    expect((await commandLog(job.id, 1)).text).toBe(value);
    for (const f of ['pwned-bt', 'pwned-sub', 'pwned-semi']) expect(existsSync(join(ws, f))).toBe(false);
  });

  test('a job past its timeout is stopped and fails with reason timeout', async () => {
    const out = await s.submit({
      name: 'times-out',
      stages: [{ name: 'main', jobs: [{ name: 'sleeper', timeout: '1s', commands: ['sleep 30'] }] }],
    });
    const run = await s.waitRun(out.run.id, (r) => TERMINAL.includes(r.status), 25_000);
    const job = run.stages[0].jobs[0];
    expect(job.status).toBe('failed');
    expect(job.reason).toBe('timeout');
    expect(run.status).toBe('failed');
  });

  test('canceling a running run ends it canceled', async () => {
    const out = await s.submit({
      name: 'to-cancel',
      stages: [
        { name: 'main', jobs: [{ name: 'sleeper', commands: ['sleep 30'] }] },
        { name: 'later', needs: ['main'], jobs: [{ name: 'after', commands: ['echo after'] }] },
      ],
    });
    const id = out.run.id;
    await s.waitRun(id, (r) => r.stages[0].jobs[0].status === 'running');
    const c = await s.api('POST', `/runs/${id}/cancel`);
    expect(c.status).toBe(200);
    const run = await s.waitRun(id, (r) => TERMINAL.includes(r.status), 25_000);
    expect(run.status).toBe('canceled');
    expect(run.stages[0].jobs[0].status).toBe('canceled');
    expect(['skipped', 'canceled']).toContain(run.stages[1].jobs[0].status);
    // idempotent
    const again = await s.api('POST', `/runs/${id}/cancel`);
    expect(again.status).toBe(200);
    expect(again.body.status).toBe('canceled');
  });

  test('retries: a command that fails twice succeeds on attempt 3', async () => {
    const ws = workspace('retries');
    const cmd = 'n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count; echo "attempt $n"; [ "$n" -ge 3 ]';
    const run = await runToEnd({
      name: 'retries',
      workspace: ws,
      stages: [{ name: 'main', jobs: [{ name: 'flaky', retries: { max: 2, backoff: '100ms' }, commands: [cmd] }] }],
    });
    expect(run.status).toBe('succeeded');
    const job = run.stages[0].jobs[0];
    expect(job.status).toBe('succeeded');
    expect(job.attempt).toBe(3);
    expect(readFileSync(join(ws, 'count'), 'utf8').trim()).toBe('3');
    expect((await commandLog(job.id, 0)).text).toBe('attempt 3\n');
    const detail = await s.api('GET', `/jobs/${job.id}`);
    expect(detail.status).toBe(200);
    expect(detail.body.attempts.map((a: any) => a.status)).toEqual(['failed', 'failed', 'succeeded']);
  });

  test('GET /runs/:id/graph as dot and mermaid has the stage names and an edge', async () => {
    const run = await runToEnd({
      name: 'graph',
      stages: [
        { name: 'prepare', jobs: [{ name: 'p', commands: ['true'] }] },
        { name: 'train', needs: ['prepare'], jobs: [{ name: 't', commands: ['true'] }] },
      ],
    });
    const dot = await s.api('GET', `/runs/${run.id}/graph?format=dot`);
    expect(dot.status).toBe(200);
    expect(dot.text).toContain('digraph');
    expect(dot.text).toContain('prepare');
    expect(dot.text).toContain('train');
    expect(dot.text).toMatch(/"?prepare"?\s*->\s*"?train"?/);

    const mermaid = await s.api('GET', `/runs/${run.id}/graph?format=mermaid`);
    expect(mermaid.status).toBe(200);
    expect(mermaid.text).toContain('prepare');
    expect(mermaid.text).toContain('train');
    expect(mermaid.text).toMatch(/\S*prepare\S*\s*-->\s*\S*train/);

    const json = await s.api('GET', `/runs/${run.id}/graph`);
    expect(json.status).toBe(200);
    expect(json.body.edges).toEqual([{ from: 'prepare', to: 'train' }]);
  });

  test('POST /runs?dry_run=true with a 3x2 matrix previews 6 runs and writes nothing', async () => {
    const runsBefore = (await allRuns()).length;
    const pipesBefore = (await s.api('GET', '/pipelines')).body.items.length;
    const groupsBefore = (await s.api('GET', '/groups?limit=1000')).body.items.length;
    const r = await s.api('POST', '/runs?dry_run=true', {
      spec: {
        name: 'dry-sweep',
        matrix: { lr: [0.1, 0.01, 0.001], seed: [1, 2] },
        stages: [{ name: 'main', jobs: [{ name: 'fit', commands: ['echo ${{ params.lr }} ${{ params.seed }}'] }] }],
      },
    });
    expect(r.status).toBeGreaterThanOrEqual(200);
    expect(r.status).toBeLessThan(300);
    expect(r.body.runs).toBe(6);
    expect(r.body.matrix).toHaveLength(6);
    const combos = r.body.matrix.map((m: any) => `${m.lr}/${m.seed}`).sort();
    expect(combos).toEqual(['0.001/1', '0.001/2', '0.01/1', '0.01/2', '0.1/1', '0.1/2']);
    expect(r.body.jobs).toBe(6);
    expect((await allRuns()).length).toBe(runsBefore);
    expect((await s.api('GET', '/pipelines')).body.items.length).toBe(pipesBefore);
    expect((await s.api('GET', '/groups?limit=1000')).body.items.length).toBe(groupsBefore);
    expect((await s.api('GET', '/pipelines/dry-sweep')).status).toBe(404);
  });

  describe('Idempotency-Key', () => {
    test('the same key and body return the same run, and only one run exists', async () => {
      const key = `idem-${Date.now()}`;
      const body = { spec: { name: 'idem-same', stages: [{ name: 'main', jobs: [{ name: 'j', commands: ['echo idem'] }] }] } };
      const a = await s.api('POST', '/runs', body, { headers: { 'idempotency-key': key } });
      expect(a.status).toBe(201);
      const b = await s.api('POST', '/runs', body, { headers: { 'idempotency-key': key } });
      expect(b.status).toBeGreaterThanOrEqual(200);
      expect(b.status).toBeLessThan(300);
      expect(b.body.run.id).toBe(a.body.run.id);
      expect((await allRuns('&pipeline=idem-same')).map((r) => r.id)).toEqual([a.body.run.id]);
      await s.waitRun(a.body.run.id);
    });

    test('the same key with a different body is 409 idempotency_conflict', async () => {
      const key = `idem-conflict-${Date.now()}`;
      const spec = (cmd: string) => ({ spec: { name: 'idem-diff', stages: [{ name: 'main', jobs: [{ name: 'j', commands: [cmd] }] }] } });
      const a = await s.api('POST', '/runs', spec('echo one'), { headers: { 'idempotency-key': key } });
      expect(a.status).toBe(201);
      const b = await s.api('POST', '/runs', spec('echo two'), { headers: { 'idempotency-key': key } });
      expect(b.status).toBe(409);
      expect(b.body.error.code).toBe('idempotency_conflict');
      expect(typeof b.body.error.message).toBe('string');
      expect((await allRuns('&pipeline=idem-diff')).map((r) => r.id)).toEqual([a.body.run.id]);
      await s.waitRun(a.body.run.id);
    });
  });

  test('cursor paging of GET /runs with limit=2 walks every run exactly once', async () => {
    // make sure there are enough runs for several pages
    for (let i = 0; i < 3; i++) await s.submit({ name: 'paging', stages: [{ name: 'main', jobs: [{ name: 'j', commands: ['true'] }] }] });
    const all = (await allRuns()).map((r) => r.id);
    expect(all.length).toBeGreaterThanOrEqual(5);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const q: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
      const r = await s.api('GET', `/runs?limit=2${q}`);
      expect(r.status).toBe(200);
      expect(r.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...r.body.items.map((x: any) => x.id));
      cursor = r.body.next_cursor;
      if (++pages > all.length + 2) throw new Error('paging does not end');
    } while (cursor);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual(all); // newest first, same order as one big page
  });

  test('GET /events?since=0 has status events for the run, stage and job transitions of a finished run', async () => {
    const run = await runToEnd({ name: 'events', stages: [{ name: 'main', jobs: [{ name: 'j', commands: ['echo ev'] }] }] });
    expect(run.status).toBe('succeeded');
    const st = run.stages[0];
    const job = st.jobs[0];
    const events = await waitFor(async () => {
      const items: any[] = [];
      let since = 0;
      for (let i = 0; i < 1000; i++) {
        const r = await s.api('GET', `/events?since=${since}`);
        expect(r.status).toBe(200);
        items.push(...r.body.items);
        if (!r.body.next_cursor || r.body.items.length === 0) break;
        since = Number(r.body.next_cursor);
      }
      const jobDone = items.some((e) => e.kind === 'job' && e.id === job.id && e.status === 'succeeded');
      return jobDone && items;
    }, { what: 'the job succeeded event' });
    const seqs = events.map((e) => e.seq);
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
    expect(new Set(seqs).size).toBe(seqs.length);
    const statuses = (kind: string, id: string) => events.filter((e) => e.kind === kind && e.id === id).map((e) => e.status);
    expect(statuses('run', run.id)).toEqual(['queued', 'running', 'succeeded']);
    expect(statuses('stage', st.id)).toEqual(expect.arrayContaining(['running', 'succeeded']));
    expect(statuses('stage', st.id).at(-1)).toBe('succeeded');
    expect(statuses('job', job.id)).toEqual(expect.arrayContaining(['running', 'succeeded']));
    expect(statuses('job', job.id).at(-1)).toBe('succeeded');
    for (const e of events.filter((x) => x.id === run.id || x.id === st.id || x.id === job.id)) {
      expect(typeof e.at).toBe('string');
      expect(Number.isNaN(Date.parse(e.at))).toBe(false);
    }
  });
});
