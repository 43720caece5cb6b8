// `bun bench/chaos.ts`: the crash soak at full size (300 jobs over the local executor and 2 agents,
// the server kill -9'ed and restarted 20 times, one agent killed twice), then one agent's claim
// throughput on 200 trivial agent jobs. Not a test: prints numbers for the closing note.
import { chaos } from '../tests/helpers/chaos.ts';
import { startServer, DROVER_CMD } from '../tests/helpers/server.ts';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const soak = await chaos({ jobs: 300, cycles: 20, agentKills: 2, log: (m) => process.stderr.write(`chaos: ${m}\n`) });
console.log('crash soak:', JSON.stringify(soak));

const s = await startServer(['--max-parallel', '2']);
const token = (await s.api('POST', '/tokens', { role: 'agent' })).body.token;
writeFileSync(join(s.root, 'a.token'), token);
const N = 200;
const { run } = await s.submit({ name: 'claims', stages: [{ name: 'm', jobs: Array.from({ length: N }, (_, i) => ({ name: `j${i}`, executor: 'agent', commands: ['true'] })) }] });
const t0 = performance.now();
const agent = Bun.spawn([...DROVER_CMD, 'agent', '--server', s.url, '--token-file', join(s.root, 'a.token'), '--cpus', '4', '--work-dir', join(s.root, 'aw')], { stdout: 'ignore', stderr: 'ignore' });
const done = await s.waitRun(run.id, undefined, 300_000);
const secs = (performance.now() - t0) / 1000;
agent.kill();
await s.stop();
console.log(`one agent (4 slots): ${N} trivial jobs in ${secs.toFixed(2)} s = ${(N / secs).toFixed(0)} jobs/s; run ${done.status}`);
