// GPU gauntlets: real `drover serve` processes with a fake nvidia-smi on PATH (tests/fakes/bin;
// FAKE_NVIDIA_SMI picks 0/1/2/4 GPUs, exit9 or garbage), real jobs. Concurrency and exclusivity are
// judged from the jobs' OWN recorded times and $CUDA_VISIBLE_DEVICES, never from wall-clock durations.
// There is no real GPU here: the fake is the only nvidia-smi these tests ever see.
import { test, expect, beforeAll, afterAll, afterEach } from 'bun:test';
import { readFileSync, existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { startServer, waitFor, tempDir, TestServer } from '../helpers/server.ts';
import {
  TERMINAL, stamped, readStamps, maxOverlap, getRun, getRuns, jobsOf, onlyJob, readResult, pgrep, killPids, removeDir, uniqueDigits,
  type Interval,
} from '../e2e/gauntlet-helpers.ts';

const FAKES = resolve(import.meta.dir, '../fakes/bin');
const savedEnv: Record<string, string | undefined> = {};
const ENV_KEYS = ['PATH', 'FAKE_NVIDIA_SMI', 'FAKE_NVIDIA_SMI_LOG', 'DROVER_GPU_SAMPLE_MS', 'CUDA_VISIBLE_DEVICES'];

beforeAll(() => {
  for (const k of ENV_KEYS) savedEnv[k] = process.env[k];
  process.env.PATH = `${FAKES}:${process.env.PATH}`;
  delete process.env.CUDA_VISIBLE_DEVICES;
});
afterAll(() => {
  for (const k of ENV_KEYS) { if (savedEnv[k] === undefined) delete process.env[k]; else process.env[k] = savedEnv[k]; }
});

let servers: TestServer[] = [];
let dirs: string[] = [];
let strayPatterns: string[] = [];

/** A server whose environment (inherited) has FAKE_NVIDIA_SMI=`gpus` and the given extra variables. */
async function server(gpus: string, args: string[], opts: { root?: string; dataDir?: string; env?: Record<string, string> } = {}): Promise<TestServer> {
  process.env.FAKE_NVIDIA_SMI = gpus;
  for (const [k, v] of Object.entries(opts.env ?? {})) process.env[k] = v;
  try {
    const s = await startServer(args, opts);
    servers.push(s);
    if (!dirs.includes(s.root)) dirs.push(s.root);
    return s;
  } finally {
    delete process.env.FAKE_NVIDIA_SMI;
    for (const k of Object.keys(opts.env ?? {})) delete process.env[k];
  }
}

afterEach(async () => {
  for (const s of servers) await s.stop().catch(() => {});
  for (const p of strayPatterns) killPids(pgrep(p));
  for (const d of dirs) removeDir(d);
  servers = []; dirs = []; strayPatterns = [];
});

const terminal = (st: string) => TERMINAL.includes(st);
const byIndex = (runs: any[]) => [...runs].sort((a, b) => (a.trigger?.index ?? 0) - (b.trigger?.index ?? 0));
const q = (p: string) => `'${p.replace(/'/g, `'\\''`)}'`;

/** A one-stage, one-job spec on the gpu executor. */
function gpuSpec(name: string, commands: string[], resources: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) {
  return { name, stages: [{ name: 'main', jobs: [{ name: 'job', executor: 'gpu', resources, commands }] }], ...extra };
}

async function job(s: TestServer, id: string): Promise<any> {
  const r = await s.api('GET', `/jobs/${id}`);
  if (r.status !== 200) throw new Error(`GET /jobs/${id}: ${r.status} ${r.text}`);
  return r.body;
}
async function logOf(s: TestServer, jobId: string): Promise<string> { return (await s.api('GET', `/jobs/${jobId}/logs`)).text; }
/** The GPU indices a job saw, from the `cvd=<list>` line it wrote into its own log. */
function cvdOf(log: string): string {
  const m = /cvd=\[([^\]]*)\]/.exec(log);
  if (!m) throw new Error(`no cvd= line in log: ${log}`);
  return m[1]!;
}
const CVD = 'echo "cvd=[$CUDA_VISIBLE_DEVICES]"';

// ---------------------------------------------------------------------------------------------
test('G8: no GPU, gpus: 1 → completes on CPU with the recorded reason and the log token', async () => {
  const s = await server('0', ['--max-parallel', '2']);
  const queue = await s.api('GET', '/queue');
  expect(queue.body.executors.gpu).toMatchObject({ gpus: [], reason: 'no_gpu_detected', used: 0 });

  const out = await s.submit(gpuSpec('g8-fallback', [`${CVD}; echo "dev=$DROVER_DEVICE"`], { gpus: 1 }, { workspace: s.root }));
  const run = await s.waitRun(out.run.id);
  expect(run.status).toBe('succeeded');
  const j = onlyJob(run);
  expect(j.device).toMatchObject({ type: 'cpu', gpu_reason: 'no_gpu_detected' });

  const result = await waitFor(() => readResult(s.dataDir, run.id), { what: 'result.json' });
  const eff = result.jobs[0].effective_config;
  expect(eff.executor).toBe('gpu');
  expect(eff.device.type).toBe('cpu');
  expect(eff.device.gpu_reason).toBe('no_gpu_detected');

  const log = await logOf(s, j.id);
  expect(log).toContain('[DROVER:DEVICE=CPU gpu_reason=no_gpu_detected]');
  expect(log.indexOf('[DROVER:DEVICE=CPU')).toBe(0); // the first line of the first command's log
  expect(cvdOf(log)).toBe(''); // the CPU run sees no GPU
  expect(log).toContain('dev=cpu');
}, 60_000);

test('G8b: fallback: none fails at once with the reason instead of waiting forever', async () => {
  const s = await server('0', []);
  const out = await s.submit(gpuSpec('g8-none', ['echo never'], { gpus: 1, fallback: 'none' }, { workspace: s.root }));
  const run = await s.waitRun(out.run.id);
  expect(run.status).toBe('failed');
  const j = onlyJob(run);
  expect(j.status).toBe('failed');
  expect(j.reason).toBe('no_gpu_detected');
  expect(j.started_at).toBeNull(); // it never ran
  expect(existsSync(join(j.dir, 'job.sh'))).toBe(false);
}, 60_000);

test.each([
  ['exit9', 'nvidia_smi_failed: exit 9'],
  ['garbage', 'nvidia_smi_failed: unreadable output'],
])('a broken nvidia-smi (%s): zero GPUs with %p; CPU fallback records it; fallback none fails with it', async (mode, reason) => {
  const s = await server(mode, []);
  const gpu = (await s.api('GET', '/queue')).body.executors.gpu;
  expect(gpu).toMatchObject({ gpus: [], reason });
  const cpu = await s.submit(gpuSpec('smi-broken-cpu', [CVD], {}, { workspace: s.root }));
  const none = await s.submit(gpuSpec('smi-broken-none', [CVD], { fallback: 'none' }, { workspace: s.root }));
  const ran = await s.waitRun(cpu.run.id);
  expect(ran.status).toBe('succeeded');
  expect(onlyJob(ran).device).toMatchObject({ type: 'cpu', gpu_reason: reason });
  expect(await logOf(s, onlyJob(ran).id)).toContain(`[DROVER:DEVICE=CPU gpu_reason=${reason}]`);
  const failed = await s.waitRun(none.run.id);
  expect(failed.status).toBe('failed');
  expect(onlyJob(failed).reason).toBe(reason);
}, 60_000);

// ---------------------------------------------------------------------------------------------
test('G9: --gpu-slots 1, two GPU jobs: never both running; the waiting one says gpu_slots_full and who holds it', async () => {
  const s = await server('2', ['--max-parallel', '4', '--gpu-slots', '1']);
  const stamps = join(s.root, 'stamps.log');
  const gate = join(s.root, 'go');
  // each job holds its GPU until the test opens the gate, so the "both waiting" moment is certain
  const body = `${CVD}; while [ ! -e ${q(gate)} ]; do sleep 0.05; done`;
  const out = await s.submit(gpuSpec('g9-excl', [stamped(stamps, body)], { gpus: 1 }, { workspace: s.root, matrix: { i: [1, 2] } }));
  const ids: string[] = byIndex(out.runs).map((r: any) => r.id);

  const [holder, waiter] = await waitFor(async () => {
    const jobs = (await getRuns(s, ids)).map(onlyJob);
    const r = jobs.filter((j) => j.status === 'running');
    const w = jobs.filter((j) => j.status === 'queued');
    return r.length === 1 && w.length === 1 && [r[0], w[0]];
  }, { what: 'one GPU job running, one waiting' });

  const why = await s.api('GET', `/jobs/${waiter.id}/why`);
  expect(why.body.blocked).toBe(true);
  const full = why.body.reasons.find((r: any) => r.code === 'gpu_slots_full');
  expect(full).toBeDefined();
  expect(full.holders).toEqual([{ index: 0, job: holder.id }]);
  expect(full.message).toContain(holder.id);
  expect(why.body.history.some((h: any) => h.reasons.some((r: any) => r.code === 'gpu_slots_full'))).toBe(true);

  // GET /queue: the GPUs this server may use (one of two), with memory and holder
  const gq = (await s.api('GET', '/queue')).body.executors.gpu;
  expect(gq.slots).toBe(1);
  expect(gq.used).toBe(1);
  expect(gq.detected).toBe(2);
  expect(gq.gpus).toHaveLength(1);
  expect(gq.gpus[0]).toMatchObject({ index: 0, name: 'NVIDIA H100 80GB HBM3', memory_total_mib: 81559, job: holder.id });

  writeFileSync(gate, '');
  const runs = await Promise.all(ids.map((id) => s.waitRun(id)));
  expect(runs.map((r) => r.status)).toEqual(['succeeded', 'succeeded']);
  const iv = readStamps(stamps);
  expect(iv.size).toBe(2);
  expect(maxOverlap(iv.values())).toBe(1); // never both running, from the jobs' own times
  for (const r of runs) {
    expect(cvdOf(await logOf(s, onlyJob(r).id))).toBe('0');
    expect(onlyJob(r).device).toMatchObject({ type: 'gpu', indices: [0], names: ['NVIDIA H100 80GB HBM3'] });
    expect(readResult(s.dataDir, r.id)?.jobs[0].effective_config.device).toMatchObject({ type: 'gpu', indices: [0] });
  }
  expect((await s.api('GET', '/queue')).body.executors.gpu.used).toBe(0);
}, 60_000);

// ---------------------------------------------------------------------------------------------
test('G10: --max-parallel 4 --gpu-slots 1: CPU jobs fill the other slots while GPU jobs run one at a time', async () => {
  const s = await server('2', ['--max-parallel', '4', '--gpu-slots', '1']);
  const gpuStamps = join(s.root, 'gpu.log');
  const cpuStamps = join(s.root, 'cpu.log');
  // the GPU sweep is submitted first: its waiting jobs must not hold the CPU sweep back
  const g = await s.submit(gpuSpec('g10-gpu', [stamped(gpuStamps, `${CVD}; sleep 0.8`)], { gpus: 1 }, { workspace: s.root, matrix: { i: [1, 2, 3, 4] } }));
  const c = await s.submit({
    name: 'g10-cpu', workspace: s.root, matrix: { i: [1, 2, 3, 4] },
    stages: [{ name: 'main', jobs: [{ name: 'job', commands: [stamped(cpuStamps, 'sleep 0.3')] }] }],
  });
  const [gg, cg] = await Promise.all([s.waitGroup(g.group.id), s.waitGroup(c.group.id)]);
  expect(gg.status).toBe('succeeded');
  expect(cg.status).toBe('succeeded');

  const gpuIv = readStamps(gpuStamps);
  const cpuIv = readStamps(cpuStamps);
  expect(gpuIv.size).toBe(4);
  expect(cpuIv.size).toBe(4);
  expect(maxOverlap(gpuIv.values())).toBe(1); // GPU jobs one at a time
  expect(maxOverlap([...gpuIv.values(), ...cpuIv.values()])).toBeLessThanOrEqual(4);
  expect(maxOverlap(cpuIv.values())).toBeGreaterThanOrEqual(3); // CPU jobs took the other 3 slots

  const gpuStarts = [...gpuIv.values()].map((i) => i.start).sort();
  const gpuEnds = [...gpuIv.values()].map((i) => i.end!).sort();
  const cpuStarts = [...cpuIv.values()].map((i) => i.start).sort();
  const cpuEnds = [...cpuIv.values()].map((i) => i.end!).sort();
  // no head-of-line blocking: 3 CPU jobs started while the first GPU job still ran...
  expect(cpuStarts.filter((t) => t < gpuEnds[0]!).length).toBeGreaterThanOrEqual(3);
  // ...and both sweeps progressed together: the CPU sweep was done before the last GPU job started
  expect(cpuEnds[3]! < gpuStarts[3]!).toBe(true);

  const runs = await getRuns(s, g.runs.map((r: any) => r.id));
  for (const r of runs) expect(cvdOf(await logOf(s, onlyJob(r).id))).toBe('0');
}, 90_000);

test('no head-of-line blocking within one group: a CPU job behind 40 waiting GPU jobs of its stage starts', async () => {
  const s = await server('1', ['--max-parallel', '4']);
  const marker = `sleep 60.${uniqueDigits()}`;
  strayPatterns.push(marker);
  const jobs = [
    ...Array.from({ length: 40 }, (_, k) => ({ name: `train-${k}`, executor: 'gpu', resources: { gpus: 1 }, commands: [marker] })),
    { name: 'report', commands: ['echo report done'] },
  ];
  const out = await s.submit({ name: 'hol-one-group', workspace: s.root, stages: [{ name: 'main', jobs }] });
  const done = await waitFor(async () => {
    const run = await getRun(s, out.run.id);
    const report = jobsOf(run).find((j) => j.name === 'report');
    return report.status === 'succeeded' && run;
  }, { timeoutMs: 30_000, what: 'the CPU job to finish while GPU jobs wait' });
  const gpuJobs = jobsOf(done).filter((j: any) => j.executor === 'gpu');
  expect(gpuJobs.filter((j: any) => j.status === 'running')).toHaveLength(1);
  expect(gpuJobs.filter((j: any) => j.status === 'queued')).toHaveLength(39);
  expect((await s.api('POST', `/runs/${out.run.id}/cancel`)).status).toBe(200);
  await s.waitRun(out.run.id);
}, 60_000);

test('the server\'s own CUDA_VISIBLE_DEVICES restricts the GPUs, --gpu-slots caps them', async () => {
  const s = await server('4', ['--gpu-slots', '1'], { env: { CUDA_VISIBLE_DEVICES: '3,1' } });
  const gq = (await s.api('GET', '/queue')).body.executors.gpu;
  expect(gq).toMatchObject({ detected: 4, slots: 1 });
  expect(gq.gpus.map((g: any) => g.index)).toEqual([3]);
  const out = await s.submit(gpuSpec('visible', [CVD], {}, { workspace: s.root }));
  const run = await s.waitRun(out.run.id);
  expect(run.status).toBe('succeeded');
  expect(cvdOf(await logOf(s, onlyJob(run).id))).toBe('3');
  expect(onlyJob(run).device).toMatchObject({ type: 'gpu', indices: [3] });
}, 60_000);

// ---------------------------------------------------------------------------------------------
test('assignments are disjoint: 4 GPUs, jobs of 1 and 2 GPUs, each records $CUDA_VISIBLE_DEVICES', async () => {
  const s = await server('4', ['--max-parallel', '8']);
  const stamps = join(s.root, 'stamps.log');
  const body = `${CVD}; sleep 0.4`;
  const out = await s.submit({
    name: 'disjoint', workspace: s.root, matrix: { i: [1, 2, 3] },
    stages: [{ name: 'main', jobs: [
      { name: 'one', executor: 'gpu', resources: { gpus: 1 }, commands: [stamped(stamps, body, '$DROVER_JOB_ID')] },
      { name: 'two', executor: 'gpu', resources: { gpus: 2 }, commands: [stamped(stamps, body, '$DROVER_JOB_ID')] },
    ] }],
  });
  const group = await s.waitGroup(out.group.id);
  expect(group.status).toBe('succeeded');
  const all = (await getRuns(s, out.runs.map((r: any) => r.id))).flatMap(jobsOf);
  expect(all).toHaveLength(6);
  const iv = readStamps(stamps);
  const sets = new Map<string, number[]>();
  for (const j of all) {
    const seen = cvdOf(await logOf(s, j.id)).split(',').map(Number);
    expect(seen).toHaveLength(j.name === 'one' ? 1 : 2);
    expect(seen).toEqual(j.device.indices); // what the job saw is what the server recorded
    for (const i of seen) expect(i >= 0 && i < 4).toBe(true);
    sets.set(j.id, seen);
  }
  // any two jobs that ran at the same time (by their own stamps) had no GPU in common
  const overlaps = (a: Interval, b: Interval) => a.start < b.end! && b.start < a.end!;
  let concurrentPairs = 0;
  const ids = [...sets.keys()];
  for (let x = 0; x < ids.length; x++) {
    for (let y = x + 1; y < ids.length; y++) {
      if (!overlaps(iv.get(ids[x]!)!, iv.get(ids[y]!)!)) continue;
      concurrentPairs++;
      expect(sets.get(ids[x]!)!.filter((i) => sets.get(ids[y]!)!.includes(i))).toEqual([]);
    }
  }
  expect(concurrentPairs).toBeGreaterThan(0); // the check above was not vacuous
  expect((await s.api('GET', '/queue')).body.executors.gpu.used).toBe(0);
}, 90_000);

// ---------------------------------------------------------------------------------------------
test('GPUs are released after cancel and after timeout: the next GPU job gets the same GPU', async () => {
  const s = await server('1', ['--max-parallel', '4']);
  const marker = `sleep 60.${uniqueDigits()}`;
  strayPatterns.push(marker);

  // cancel
  const a = await s.submit(gpuSpec('rel-cancel', [`${CVD}; ${marker}`], {}, { workspace: s.root }));
  await s.waitRun(a.run.id, (r) => onlyJob(r).status === 'running');
  const b = await s.submit(gpuSpec('rel-after-cancel', [CVD], {}, { workspace: s.root }));
  await waitFor(async () => (await s.api('GET', `/jobs/${onlyJob(b.run).id}/why`)).body.reasons.some((r: any) => r.code === 'gpu_slots_full'), { what: 'the second job to wait for the GPU' });
  expect((await s.api('POST', `/runs/${a.run.id}/cancel`)).status).toBe(200);
  const canceled = await s.waitRun(a.run.id);
  expect(canceled.status).toBe('canceled');
  const after = await s.waitRun(b.run.id);
  expect(after.status).toBe('succeeded');
  expect(cvdOf(await logOf(s, onlyJob(after).id))).toBe('0');
  expect(Date.parse(onlyJob(after).started_at)).toBeGreaterThanOrEqual(Date.parse(onlyJob(canceled).ended_at));

  // timeout
  const c = await s.submit(gpuSpec('rel-timeout', [`${CVD}; ${marker}`], {}, { workspace: s.root, timeout: '1s' }));
  const d = await s.submit(gpuSpec('rel-after-timeout', [CVD], {}, { workspace: s.root }));
  const timedOut = await s.waitRun(c.run.id);
  expect(onlyJob(timedOut).reason).toBe('timeout');
  const next = await s.waitRun(d.run.id);
  expect(next.status).toBe('succeeded');
  expect(cvdOf(await logOf(s, onlyJob(next).id))).toBe('0');
  expect(Date.parse(onlyJob(next).started_at)).toBeGreaterThanOrEqual(Date.parse(onlyJob(timedOut).ended_at));
  expect((await s.api('GET', '/queue')).body.executors.gpu.used).toBe(0);
}, 90_000);

test('kill -9 + restart: the re-adopted job keeps its GPU; a new GPU job waits for it, then gets it', async () => {
  const root = tempDir();
  const dataDir = join(root, 'data');
  dirs.push(root);
  const args = ['--max-parallel', '4'];
  const stamps = join(root, 'stamps.log');
  const gate = join(root, 'go');
  const s1 = await server('1', args, { root, dataDir });
  const first = await s1.submit(gpuSpec('restart-holder', [stamped(stamps, `${CVD}; while [ ! -e ${q(gate)} ]; do sleep 0.05; done`)], {}, { workspace: root }));
  await waitFor(() => readStamps(stamps).has(first.run.id), { what: 'the first job to start' });
  s1.kill9();
  await s1.proc.exited;

  const s2 = await server('1', args, { root, dataDir });
  const second = await s2.submit(gpuSpec('restart-next', [stamped(stamps, CVD)], {}, { workspace: root }));
  const secondJob = onlyJob(second.run).id;
  // the re-adopted job still holds GPU 0: the new one waits, and says who holds it
  const why = await waitFor(async () => {
    const w = (await s2.api('GET', `/jobs/${secondJob}/why`)).body;
    return w.reasons.find((r: any) => r.code === 'gpu_slots_full');
  }, { what: 'gpu_slots_full after the restart' });
  expect(why.holders).toEqual([{ index: 0, job: onlyJob(first.run).id }]);
  expect((await job(s2, secondJob)).status).toBe('queued');
  const gq = (await s2.api('GET', '/queue')).body.executors.gpu;
  expect(gq.gpus[0].job).toBe(onlyJob(first.run).id);

  writeFileSync(gate, '');
  const [r1, r2] = await Promise.all([s2.waitRun(first.run.id), s2.waitRun(second.run.id)]);
  expect(r1.status).toBe('succeeded');
  expect(r2.status).toBe('succeeded');
  const iv = readStamps(stamps);
  expect(iv.size).toBe(2);
  expect(maxOverlap(iv.values())).toBe(1);
  expect(iv.get(second.run.id)!.start >= iv.get(first.run.id)!.end!).toBe(true);
  expect(cvdOf(await logOf(s2, onlyJob(r1).id))).toBe('0');
  expect(cvdOf(await logOf(s2, onlyJob(r2).id))).toBe('0');
  expect((await s2.api('GET', '/queue')).body.executors.gpu.used).toBe(0);
}, 90_000);

// ---------------------------------------------------------------------------------------------
test('telemetry: while GPU jobs run, one nvidia-smi call per interval fills their stats and /metrics', async () => {
  const root = tempDir();
  dirs.push(root);
  const calls = join(root, 'smi-calls.log');
  const s = await server('4', ['--max-parallel', '4'], { root, env: { DROVER_GPU_SAMPLE_MS: '200', FAKE_NVIDIA_SMI_LOG: calls } });
  const gate = join(root, 'go');
  const wait = `while [ ! -e ${q(gate)} ]; do sleep 0.05; done`;
  const a = await s.submit(gpuSpec('telemetry-a', [wait], { gpus: 2 }, { workspace: root }));
  const b = await s.submit(gpuSpec('telemetry-b', [wait], { gpus: 1 }, { workspace: root }));
  const ja = onlyJob(a.run).id, jb = onlyJob(b.run).id;
  const stats = await waitFor(async () => {
    const [x, y] = await Promise.all([job(s, ja), job(s, jb)]);
    return x.stats?.gpu?.samples >= 3 && y.stats?.gpu?.samples >= 3 && [x.stats.gpu, y.stats.gpu];
  }, { what: 'three samples in both jobs\' stats' });
  expect(stats[0].indices).toEqual([0, 1]);
  expect(stats[0].per_gpu.map((g: any) => [g.index, g.memory_total_mib, g.utilization_pct.last, g.memory_used_mib.last])).toEqual([[0, 81559, 5, 1024], [1, 81559, 15, 2048]]);
  expect(stats[0].utilization_pct.last).toBe(10);
  expect(stats[0].memory_used_mib.last).toBe(3072);
  expect(stats[1].indices).toEqual([2]);

  const metrics = await s.api('GET', '/metrics');
  expect(metrics.status).toBe(200);
  expect(metrics.text).toContain('drover_gpu_utilization_percent{index="0",uuid="GPU-00000000-fake-4e2b-9c1d-000000000000",name="NVIDIA H100 80GB HBM3"} 5');
  expect(metrics.text).toMatch(/drover_gpu_in_use\{index="2",[^}]*\} 1/);
  expect(metrics.text).toMatch(/drover_gpu_in_use\{index="3",[^}]*\} 0/);

  writeFileSync(gate, '');
  await Promise.all([s.waitRun(a.run.id), s.waitRun(b.run.id)]);
  // two jobs on three GPUs, yet one call per interval for all of them: no two calls closer than half an interval
  const times = readFileSync(calls, 'utf8').split('\n').filter(Boolean).map((l) => BigInt(l.split(' ')[0]!));
  expect(times.length).toBeGreaterThanOrEqual(4); // detection + ≥ 3 samples
  const gaps = times.slice(1).map((t, i) => Number((t - times[i]!) / 1_000_000n));
  expect(Math.min(...gaps.slice(1))).toBeGreaterThanOrEqual(90);
  expect(readFileSync(calls, 'utf8')).not.toMatch(/--id=|-i \d/); // never a per-GPU query
}, 60_000);

test('a 2-GPU job is not starved by a stream of 1-GPU jobs: once it has waited the reserve time it goes first', async () => {
  const s = await server('2', ['--max-parallel', '8'], { env: { DROVER_GPU_RESERVE_AFTER_MS: '1000' } });
  const a = await s.submit(gpuSpec('hold-one', ['sleep 2'], { gpus: 1 }));
  await s.waitRun(a.run.id, (r) => onlyJob(r).status === 'running');
  const big = await s.submit(gpuSpec('needs-two', ['echo "$CUDA_VISIBLE_DEVICES"'], { gpus: 2 }));
  const bigJob = onlyJob(big.run).id;
  await waitFor(async () => (await s.api('GET', `/jobs/${bigJob}/why`)).body.reasons.some((r: any) => r.code === 'gpu_slots_full'), { what: 'the 2-GPU job to wait' });
  // six 1-GPU jobs: without the guard each would take whichever GPU frees up, one after another
  const small = await s.submit(gpuSpec('one-each', ['sleep 1'], { gpus: 1 }, { matrix: { i: [1, 2, 3, 4, 5, 6] } }));
  const bigDone = await s.waitRun(big.run.id, undefined, 60_000);
  expect(bigDone.status).toBe('succeeded');
  expect((await logOf(s, bigJob)).trim().split('\n').pop()).toBe('0,1'); // both GPUs, after the preamble line
  const runs = await s.waitGroup(small.group.id).then(() => getRuns(s, small.runs.map((r: any) => r.id)));
  const starts = runs.map((r: any) => Date.parse(onlyJob(r).started_at));
  const bigStart = Date.parse(onlyJob(bigDone).started_at);
  expect(starts.filter((t: number) => t >= bigStart).length).toBeGreaterThan(0); // some waited for it
  // the ones held back were told why, naming the job the GPUs were kept for
  const held = runs.filter((r: any) => Date.parse(onlyJob(r).started_at) >= bigStart);
  const why = (await s.api('GET', `/jobs/${onlyJob(held[0]).id}/why`)).body;
  expect(why.history.some((h: any) => h.reasons.some((x: any) => x.code === 'gpu_reserved' && x.job === bigJob))).toBe(true);
}, 90_000);
