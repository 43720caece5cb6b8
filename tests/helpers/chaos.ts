// The crash soak shared by tests/agents/chaos.test.ts (small) and bench/chaos.ts (large): one run of
// N jobs split between the local executor and remote agents, while the server is kill -9'ed and
// restarted at random moments and an agent is killed and restarted. Judged from the jobs' own marker
// files (one line per execution) and the server's status events.
import { mkdirSync, writeFileSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Subprocess } from 'bun';
import { TestServer, tempDir, waitFor, DROVER_CMD } from './server.ts';

export interface ChaosResult {
  jobs: number; lost: number; notTerminal: number; appliedTwice: number; reRuns: number; failed: number;
  serverKills: number; agentKills: number; seconds: number;
}

export async function chaos({ jobs = 40, cycles = 3, agentKills = 1, log = (_: string) => {} } = {}): Promise<ChaosResult> {
  const t0 = Date.now();
  const root = tempDir('drover-chaos-');
  const dataDir = join(root, 'data');
  const markers = join(root, 'markers');
  mkdirSync(markers, { recursive: true });
  const port = await freePort();
  const args = ['--port', String(port), '--max-parallel', '3', '--lease-ttl', '2s', '--kill-grace', '1s'];
  let server = await new TestServer(root, dataDir, args).start();
  const agentToken = (await server.api('POST', '/tokens', { role: 'agent' })).body.token as string;
  const tokenFile = join(root, 'agent.token');
  writeFileSync(tokenFile, agentToken, { mode: 0o600 });
  const agents: Subprocess[] = [];
  const startAgent = (i: number) => Bun.spawn([...DROVER_CMD, 'agent', '--server', server.url, '--token-file', tokenFile, '--cpus', '2', '--name', `chaos-${i}`, '--work-dir', join(root, `agent-${i}`)], { stdout: 'ignore', stderr: 'ignore' });
  agents[0] = startAgent(0);
  agents[1] = startAgent(1);
  const cmd = `echo "$DROVER_ATTEMPT" >> ${markers}/$DROVER_JOB_ID; sleep 0.$((RANDOM % 3))`;
  const spec = {
    name: 'chaos', workspace: root, retries: { backoff: '200ms', max_backoff: '1s', lost: 20 },
    stages: [{ name: 'work', jobs: Array.from({ length: jobs }, (_, i) => ({ name: `j${i}`, executor: i % 2 ? 'agent' : 'local', commands: [cmd] })) }],
  };
  const { run } = await server.submit(spec);
  let killedAgents = 0;
  try {
    for (let c = 0; c < cycles; c++) {
      await Bun.sleep(300 + Math.random() * 1200);
      server.kill9();
      await server.proc.exited;
      log(`cycle ${c + 1}: server killed`);
      if (killedAgents < agentKills && c % 2 === 0) {
        agents[0]!.kill('SIGKILL');
        agents[0] = startAgent(0);
        killedAgents++;
        log(`cycle ${c + 1}: agent 0 killed and restarted`);
      }
      await Bun.sleep(Math.random() * 500);
      server = await new TestServer(root, dataDir, args).start();
    }
    const done = await server.waitRun(run.id, undefined, 180_000);
    const all = done.stages[0].jobs as { id: string; status: string; reason: string | null }[];
    const events = await allEvents(server);
    const succeededTwice = countBy(events.filter((e) => e.kind === 'job' && ['succeeded', 'failed'].includes(e.status)).map((e) => e.id));
    const lines = Object.fromEntries(readdirSync(markers).map((f) => [f, readFileSync(join(markers, f), 'utf8').trim().split('\n').length]));
    return {
      jobs: all.length,
      lost: all.filter((j) => !lines[j.id] || j.reason === 'lost').length,
      notTerminal: all.filter((j) => !['succeeded', 'failed', 'canceled', 'skipped'].includes(j.status)).length,
      failed: all.filter((j) => j.status === 'failed').length,
      appliedTwice: [...succeededTwice.values()].filter((n) => n > 1).length,
      reRuns: Object.values(lines).reduce((a, n) => a + Math.max(0, n - 1), 0),
      serverKills: cycles, agentKills: killedAgents, seconds: (Date.now() - t0) / 1000,
    };
  } finally {
    for (const a of agents) a.kill('SIGKILL');
    await server.stop();
  }
}

async function allEvents(s: TestServer) {
  const out: { kind: string; id: string; status: string }[] = [];
  let since = 0;
  for (;;) {
    const page = (await s.api('GET', `/events?since=${since}&limit=5000`)).body;
    out.push(...page.items);
    if (!page.next_cursor) return out;
    since = Number(page.next_cursor);
  }
}

function countBy(ids: string[]) {
  const m = new Map<string, number>();
  for (const id of ids) m.set(id, (m.get(id) ?? 0) + 1);
  return m;
}

async function freePort(): Promise<number> {
  const s = Bun.serve({ port: 0, fetch: () => new Response('') });
  const p = s.port!;
  s.stop(true);
  return p;
}

export { waitFor };
