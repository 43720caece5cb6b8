// Fan-in through remote agents: a job-level matrix run by `drover agent`, then a merge job whose
// $DROVER_NEEDS came with its claim (written beside the script before it starts), and the run's jobs
// on one agent sharing that agent's work dir for the run.
import { test, expect, afterAll } from 'bun:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Subprocess } from 'bun';
import { startServer, DROVER_CMD, type TestServer } from '../helpers/server.ts';

let s: TestServer;
let agent: Subprocess | undefined;
afterAll(async () => { agent?.kill('SIGKILL'); await s?.stop(); });

test('an agent runs a 2×2 job matrix and a merge that reads every point from $DROVER_NEEDS', async () => {
  s = await startServer(['--max-parallel', '2', '--lease-ttl', '3s']);
  const token = (await s.api('POST', '/tokens', { role: 'agent', name: 'fan' })).body.token as string;
  const file = join(s.root, 'agent.token');
  writeFileSync(file, token, { mode: 0o600 });
  agent = Bun.spawn([...DROVER_CMD, 'agent', '--server', s.url, '--token-file', file, '--name', 'fan', '--work-dir', join(s.root, 'agent-work')], { stdout: 'ignore', stderr: 'ignore' });

  const { run } = await s.submit({
    name: 'agent-fanout',
    stages: [
      { name: 'fit', jobs: [{ name: 'fit', executor: 'agent', matrix: { a: [1, 2], b: ['x', 'y'] }, commands: [
        'echo ${{ matrix.a }}${{ matrix.b }} > "pt-$DROVER_MATRIX_A$DROVER_MATRIX_B.txt"',
        'echo v=${{ matrix.a }}${{ matrix.b }} >> "$DROVER_OUTPUT"',
      ] }] },
      { name: 'merge', needs: ['fit'], jobs: [{ name: 'merge', executor: 'agent', commands: [
        `python3 -c 'import json,os; d=json.load(open(os.environ["DROVER_NEEDS"])); print("seen=" + ",".join(sorted(j["name"] + ":" + j["outputs"]["v"] + ":" + str(j["exit_code"]) for j in d["fit"]["jobs"])))' >> "$DROVER_OUTPUT"`,
        'echo files=$(ls pt-*.txt | tr "\\n" " ") >> "$DROVER_OUTPUT"',
        'echo same=$([ "$PWD" = "$DROVER_WORKDIR" ] && echo yes) >> "$DROVER_OUTPUT"',
      ] }] },
    ],
  });
  const done = await s.waitRun(run.id, undefined, 60_000);
  expect(done.status).toBe('succeeded');
  expect(done.stages[1].jobs[0].outputs).toEqual({
    seen: 'fit[a=1,b=x]:1x:0,fit[a=1,b=y]:1y:0,fit[a=2,b=x]:2x:0,fit[a=2,b=y]:2y:0',
    files: 'pt-1x.txt pt-1y.txt pt-2x.txt pt-2y.txt',
    same: 'yes',
  });
}, 90_000);
