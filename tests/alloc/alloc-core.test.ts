// Allocation queues, the parts without Slurm: the state tables (every from × to pair) and their guarded
// writes on a real SQLite file, the demand-driven sizing, the one fit rule shared by sizing and `why`,
// the batch script (quoting, no token, one agent per node) and the checks of `alloc add`.
import { test, expect, describe, afterAll } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { allocMachine, allocQueueMachine, ALLOC_STATUSES, ALLOC_QUEUE_STATUSES, ALLOC_TRANSITIONS, ALLOC_QUEUE_TRANSITIONS } from '../../src/core/states/index.ts';
import { openDatabase } from '../../src/db/open.ts';
import { allocRepo } from '../../src/db/repos/alloc.ts';
import { toSubmit, slotsPerAllocation, misfit, allocBlocker } from '../../src/core/alloc/sizing.ts';
import { allocShape, parseNodeShapes, queueShape } from '../../src/core/alloc/shape.ts';
import { allocScript, usableMs } from '../../src/core/alloc/script.ts';
import { prepareQueue } from '../../src/core/alloc/add.ts';
import type { AllocBackend, AllocQueueRow, AllocationRow } from '../../src/core/alloc/types.ts';

const dirs: string[] = [];
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

const queueRow = (over: Partial<AllocQueueRow> = {}): AllocQueueRow => ({
  id: 'q_1', name: 'p', manager: 'slurm', pool: 'p', time_ms: 3600_000, nodes: 1, backlog: 1, max_allocs: 2, idle_ms: 300_000,
  sbatch_args: '[]', status: 'active', reason: null, failures: 0, backoff_until: null, last_error: null, sbatch_calls: 0,
  created_at: 'now', updated_at: 'now', node_cpus: null, node_gpus: null, cpus: null, gpus: null, ...over,
});
const alloc = (status: AllocationRow['status'], over: Partial<AllocationRow> = {}): AllocationRow => ({
  seq: 0, id: `a_${Math.random().toString(36).slice(2)}`, queue_id: 'q_1', status, slurm_id: '1', slurm_state: null, node: null, reason: null, message: null,
  token_id: null, dir: '/x', script: '', jobs_run: 0, connected_at: null, created_at: new Date().toISOString(), started_at: null, ended_at: null, ...over,
});

describe('state tables', () => {
  for (const [name, m, statuses, table, terminal] of [
    ['allocation', allocMachine, ALLOC_STATUSES, ALLOC_TRANSITIONS, ['ended', 'failed', 'canceled']],
    ['alloc queue', allocQueueMachine, ALLOC_QUEUE_STATUSES, ALLOC_QUEUE_TRANSITIONS, ['removed']],
  ] as const) {
    test(`${name}: every from × to pair follows the table; terminal states accept nothing`, () => {
      for (const from of statuses) for (const to of statuses) {
        expect(m.canTransition(from as never, to as never)).toBe((table as Record<string, readonly string[]>)[from]!.includes(to));
      }
      for (const s of terminal) { expect(m.isTerminal(s as never)).toBe(true); expect((table as Record<string, readonly string[]>)[s]).toEqual([]); }
    });
  }
  test('documented edges: submitting → pending → running → ended; active ⇄ paused; draining → removed', () => {
    for (const [a, b] of [['submitting', 'pending'], ['pending', 'running'], ['running', 'ended'], ['running', 'failed'], ['pending', 'canceled'], ['submitting', 'failed']] as const) expect(allocMachine.canTransition(a, b)).toBe(true);
    for (const [a, b] of [['running', 'pending'], ['ended', 'running'], ['failed', 'pending']] as const) expect(allocMachine.canTransition(a, b)).toBe(false);
    for (const [a, b] of [['active', 'paused'], ['paused', 'active'], ['active', 'draining'], ['draining', 'removed']] as const) expect(allocQueueMachine.canTransition(a, b)).toBe(true);
    expect(allocQueueMachine.canTransition('draining', 'active')).toBe(false);
  });

  test('guarded writes on a real SQLite file: a stale from changes nothing; an illegal edge throws before any SQL', () => {
    const d = mkdtempSync(join(tmpdir(), 'drover-alloc-db-')); dirs.push(d);
    const { sqlite } = openDatabase(join(d, 'drover.db'));
    const repo = allocRepo(sqlite);
    repo.insertQueue(queueRow());
    const a = alloc('submitting');
    repo.insertAllocation(a);
    expect(repo.transitionAllocation(a.id, 'submitting', 'pending', { slurm_id: '42' })).toBe(true);
    expect(repo.transitionAllocation(a.id, 'submitting', 'pending')).toBe(false); // lost race: no longer submitting
    expect(() => repo.transitionAllocation(a.id, 'pending', 'submitting')).toThrow(/illegal transition/);
    expect(repo.allocation(a.id)!.status).toBe('pending');
    expect(repo.allocation(a.id)!.slurm_id).toBe('42');
    expect(repo.alive().map((x) => x.id)).toEqual([a.id]);
    expect(repo.transitionQueue('q_1', 'active', 'draining')).toBe(true);
    expect(() => repo.transitionQueue('q_1', 'draining', 'active')).toThrow(/illegal transition/);
    expect(repo.queue('p')!.status).toBe('draining');
    // a removed queue's name is free again (unique among live queues only, migration 0010)
    expect(() => repo.insertQueue(queueRow({ id: 'q_2' }))).toThrow(/UNIQUE/);
    expect(repo.transitionQueue('q_1', 'draining', 'removed')).toBe(true);
    repo.insertQueue(queueRow({ id: 'q_2', node_cpus: 2, node_gpus: 0, cpus: 1, gpus: 0 }));
    expect(repo.queue('p')).toMatchObject({ id: 'q_2', node_cpus: 2, node_gpus: 0, cpus: 1, gpus: 0 });
    expect(repo.queue('q_1')!.status).toBe('removed');
    sqlite.close();
  });
});

describe('sizing', () => {
  test('submits for queued jobs up to backlog pending and max-allocs alive, less what is on its way', () => {
    const q = queueRow({ backlog: 1, max_allocs: 2 });
    expect(toSubmit(q, [], 0)).toBe(0);
    expect(toSubmit(q, [], 500)).toBe(1); // backlog 1
    expect(toSubmit(q, [alloc('pending')], 500)).toBe(0); // one pending already
    expect(toSubmit(q, [alloc('running', { connected_at: 'x' })], 500)).toBe(1); // the second of max 2
    expect(toSubmit(q, [alloc('running', { connected_at: 'x' }), alloc('running', { connected_at: 'x' })], 500)).toBe(0); // max-allocs
    expect(toSubmit(q, [alloc('running')], 1)).toBe(0); // a running allocation whose agent has not claimed yet brings it
    expect(toSubmit(queueRow({ backlog: 3, max_allocs: 10, sbatch_args: '["--cpus-per-task=4"]' }), [], 6)).toBe(2); // 6 jobs, 4 CPUs each
    expect(toSubmit(queueRow({ status: 'paused' }), [], 500)).toBe(0);
  });
  test('CPUs per allocation from the sbatch arguments', () => {
    const q = (nodes: number, sbatch_args: string, over: Partial<AllocQueueRow> = {}) => queueRow({ nodes, sbatch_args, ...over });
    expect(slotsPerAllocation(q(1, '[]'))).toBe(1);
    expect(slotsPerAllocation(q(2, '["-c", "4"]'))).toBe(8);
    expect(slotsPerAllocation(q(1, '["--ntasks-per-node=2", "--cpus-per-task=3"]'))).toBe(6);
    expect(slotsPerAllocation(q(1, '["--mincpus=16"]'))).toBe(16);
    expect(slotsPerAllocation(q(1, '["--mincpus=16"]', { cpus: 4 }))).toBe(4); // as stored at alloc add (bounded by the node)
  });
  test('the shape of an allocation: its arguments, Slurm\'s defaults (1 CPU, no GPU), --exclusive, bounded by the node', () => {
    const node = { cpus: 8, gpus: 4 };
    expect(allocShape([], 1, node)).toEqual({ cpus: 1, gpus: 0, cpusAsked: false, gpusAsked: false });
    expect(allocShape(['--exclusive'], 1, node)).toMatchObject({ cpus: 8, gpus: 0, cpusAsked: true });
    expect(allocShape(['-c16'], 1, node).cpus).toBe(8); // never more than a node has
    expect(allocShape(['-c', '3', '--gres=gpu:2'], 1, node)).toMatchObject({ cpus: 3, gpus: 2, gpusAsked: true });
    expect(allocShape(['--gres=gpu:a100:3(S:0-1),mps:100'], 1, node).gpus).toBe(3);
    expect(allocShape(['--gres=gpu'], 1, node).gpus).toBe(1);
    expect(allocShape(['--gpus=6'], 2, node).gpus).toBe(3); // per node of 2
    expect(allocShape(['-G', '9'], 1, node).gpus).toBe(4);
    expect(allocShape(['--gpus-per-node=a100:2'], 1, null).gpus).toBe(2);
    expect(allocShape(['--gpus-per-task=1', '--ntasks-per-node=2'], 1, node).gpus).toBe(2);
    expect(allocShape(['--partition', 'gpu', '-c', '2'], 1, null).cpus).toBe(2); // a value after its option is not an option
    // sinfo's %c|%G lines: the smallest node; "(null)" is no GPU; "4+" is at least 4
    expect(parseNodeShapes(['2|gpu:2'])).toEqual({ cpus: 2, gpus: 2 });
    expect(parseNodeShapes(['64|gpu:a100:4(S:0-1)', '4+|(null)'])).toEqual({ cpus: 4, gpus: 0 });
    expect(parseNodeShapes(['junk'])).toBeNull();
    expect(queueShape(queueRow({ sbatch_args: '["-c","2"]', cpus: 5, gpus: 1 }))).toMatchObject({ cpus: 5, gpus: 1 });
  });
  test('one fit rule for cpus and gpus: a job bigger than a node, or than what the arguments ask, is a misfit naming the queue and the limit', () => {
    const q = queueRow({ name: 'small', node_cpus: 2, node_gpus: 2, cpus: 1, gpus: 0 });
    const res = (cpus?: number, gpus?: number) => ({ resources: { fallback: 'cpu' as const, cpus, gpus } });
    expect(misfit(q, res())).toBeNull();
    expect(misfit(q, res(1, 0))).toBeNull();
    const node = misfit(q, res(8))!;
    expect(node).toMatchObject({ code: 'alloc_cpus_too_many', queue: 'small', limit: 2, cpus: 8, by: 'node' });
    expect(node.message).toContain("'small'");
    expect(node.message).toContain('2 CPUs');
    const args = misfit(q, res(2))!;
    expect(args).toMatchObject({ code: 'alloc_cpus_too_many', limit: 1, by: 'sbatch_args' });
    expect(args.message).toContain('--cpus-per-task=N');
    const g = misfit(q, res(1, 1))!;
    expect(g).toMatchObject({ code: 'alloc_gpus_too_many', queue: 'small', limit: 0, gpus: 1, by: 'sbatch_args' });
    expect(g.message).toContain('--gres=gpu:N');
    expect(misfit(q, res(1, 3))).toMatchObject({ code: 'alloc_gpus_too_many', limit: 2, by: 'node' });
    expect(misfit(queueRow({ node_cpus: 2, node_gpus: 2, cpus: 2, gpus: 2 }), res(2, 2))).toBeNull();
    // the sizing counts only what fits, in CPUs
    expect(toSubmit(queueRow({ backlog: 5, max_allocs: 5, cpus: 2 }), [], 6)).toBe(3);
  });
  test('why of a job that fits names the allocation it waits for, or the back-off, or the next pass', () => {
    const spec = { executor: 'agent', pool: 'p', resources: { fallback: 'cpu' as const } };
    const q = queueRow({ name: 'gpu-small' });
    const pending = alloc('pending', { id: 'a_pend', slurm_id: '123', slurm_state: 'PENDING', created_at: '2026-12-05T12:01:05.000Z' });
    const b = allocBlocker([q], spec, [pending])!;
    expect(b).toMatchObject({ code: 'alloc_pending', queue: 'gpu-small', allocation: 'a_pend', slurm_id: '123', state: 'pending' });
    expect(b.message).toBe("waiting for allocation a_pend (Slurm job 123, pending since 12:01:05 UTC) of allocation queue 'gpu-small'");
    expect(allocBlocker([q], spec, [alloc('submitting', { slurm_id: null })])!.message).toContain('sbatch under way');
    const started = alloc('running', { id: 'a_run', slurm_id: '9', node: 'n1', started_at: '2026-12-05T12:02:00.000Z' });
    expect(allocBlocker([q], spec, [started])!.message).toContain('Slurm job 9, running on n1 since 12:02:00 UTC, its agent not connected yet');
    expect(allocBlocker([q], spec, [{ ...started, connected_at: 'x' }])).toBeNull(); // agents claim: it waits for a slot like any agent job
    expect(allocBlocker([q], spec, [pending], Date.now())?.code).toBe('alloc_pending');
    expect(allocBlocker([q], spec, [alloc('pending', { queue_id: 'q_other' })])?.code).toBe('alloc_to_submit'); // another queue's allocation is not its
    const backing = queueRow({ failures: 2, backoff_until: Date.parse('2026-12-05T13:00:00Z'), last_error: 'no controller' });
    const bo = allocBlocker([backing], spec, [], Date.parse('2026-12-05T12:59:00Z'))!;
    expect(bo).toMatchObject({ code: 'alloc_backoff', queue: 'p', failures: 2 });
    expect(bo.message).toContain('after 13:00:00 UTC (2 failed submissions in a row; last: no controller)');
    expect(allocBlocker([backing], spec, [], Date.parse('2026-12-05T13:01:00Z'))?.code).toBe('alloc_to_submit');
    // a misfit for one queue, a pending allocation in another that fits: the one it waits for
    const small = queueRow({ id: 'q_s', name: 's', time_ms: 120_000 });
    expect(allocBlocker([small, q], { ...spec, resources: { fallback: 'cpu', time_ms: 600_000 } }, [pending])?.code).toBe('alloc_pending');
  });
  test('one fit rule: a job longer than the usable walltime is a misfit, and its blocker names the queue', () => {
    const q = queueRow({ name: 'short', time_ms: 600_000 });
    expect(usableMs(q)).toBe(570_000);
    expect(misfit(q, { resources: { fallback: 'cpu', time_ms: 60_000 } })).toBeNull();
    const b = misfit(q, { resources: { fallback: 'cpu', time_ms: 3600_000 } })!;
    expect(b.code).toBe('alloc_time_too_short');
    expect(b.message).toContain("'short'");
    const spec = { executor: 'agent', pool: 'p', resources: { fallback: 'cpu' as const, time_ms: 3600_000 } };
    expect(allocBlocker([q], spec)?.code).toBe('alloc_time_too_short');
    expect(allocBlocker([q, queueRow({ id: 'q_2', name: 'long', time_ms: 7200_000 })], spec)).toMatchObject({ code: 'alloc_to_submit', queue: 'long' }); // another queue of the pool fits
    expect(allocBlocker([q], { ...spec, pool: 'other' })).toBeNull(); // no queue serves that pool
    expect(allocBlocker([queueRow({ status: 'paused', reason: 'by hand' })], { ...spec, resources: { fallback: 'cpu' } })?.code).toBe('alloc_queue_paused');
  });
});

describe('the batch script', () => {
  const base = { queue: { name: 'p', pool: 'p', time_ms: 3600_000, idle_ms: 300_000, nodes: 1, sbatch_args: '["-c","4"]', node_cpus: 8, node_gpus: 2, cpus: 4, gpus: 2 }, allocId: 'a_1', self: ["/opt/dro ver/drover"], serverUrl: 'http://login:7070', tokenFile: "/d/it's/token", workDir: '/d/work' };
  test('runs drover agent with --until, --idle-exit and the token FILE; every path quoted', () => {
    const s = allocScript(base);
    expect(s).toContain(`exec '/opt/dro ver/drover' 'agent' '--server' 'http://login:7070' '--token-file' '/d/it'\\''s/token' '--pool' 'p' '--idle-exit' '300000ms'`);
    expect(s).toContain('--until "$until" --slots 4 --gpus 2 '); // the allocation's CPUs and GPUs
    expect(s).toContain('export until=$(( $(date +%s%3N) + 3570000 ))');
    expect(s).not.toContain('drv_');
    expect(s).not.toContain('srun');
  });
  test('--nodes 2: one agent per node through srun', () => {
    const s = allocScript({ ...base, queue: { ...base.queue, nodes: 2 } });
    expect(s).toContain('exec srun --nodes=2 --ntasks=2 --ntasks-per-node=1 bash -c');
    expect(s).toContain('SLURM_NODEID');
  });
});

describe('alloc add checks', () => {
  const backend = (hosts: string[] | null, test: { message: string; unavailable: boolean } | null = null): AllocBackend => ({
    checkArgs: (args) => args.includes('--output=x') ? 'no --output' : null,
    test: async () => test, submit: async () => ({ ok: false, error: 'unused', unknown: false }),
    observe: async () => new Map(), cancel: async () => {}, hosts: async () => hosts, nodeShape: async () => ({ cpus: 2, gpus: 1 }), calls: () => ({ sbatch: 0, sbatch_failures: 0 }),
  });
  const store = { queue: () => null } as never;
  test('a loopback server URL with other hosts in the partition: a loud warning; the same host: none', async () => {
    const { warnings } = await prepareQueue(store, backend(['node1', 'node2']), 'http://127.0.0.1:7070', { manager: 'slurm', pool: 'p', time_ms: 3600_000 });
    expect(warnings[0]).toContain('WARNING');
    expect(warnings[0]).toContain('node1');
    expect(warnings[0]).toContain('--advertise-url');
    expect((await prepareQueue(store, backend(['node1']), 'http://login1:7070', { manager: 'slurm', pool: 'p', time_ms: 3600_000 })).warnings).toEqual([]);
  });
  test('the queue keeps the node\'s shape and what an allocation gets of it', async () => {
    const { queue } = await prepareQueue(store, backend(['node1']), 'http://login1:7070', { manager: 'slurm', pool: 'p', time_ms: 3600_000, sbatch_args: ['-c', '4', '--gres=gpu:1'] });
    expect(queue).toMatchObject({ node_cpus: 2, node_gpus: 1, cpus: 2, gpus: 1 }); // 4 asked, 2 on the node
    const unknown = await prepareQueue(store, { ...backend(['node1']), nodeShape: async () => null }, 'http://login1:7070', { manager: 'slurm', pool: 'p', time_ms: 3600_000, sbatch_args: ['-c', '4'] });
    expect(unknown.queue).toMatchObject({ node_cpus: null, node_gpus: null, cpus: 4, gpus: 0 });
    expect(unknown.warnings.join()).toContain('sinfo');
  });
  test('bad numbers, names and arguments are 400s naming the field; Slurm\'s refusal is passed on', async () => {
    const add = (o: object, b = backend([])) => prepareQueue(store, b, 'http://h:1', { manager: 'slurm', pool: 'p', time_ms: 3600_000, ...o });
    await expect(add({ time_ms: 1000 })).rejects.toThrow(/time/);
    await expect(add({ pool: 'a b' })).rejects.toThrow(/pool/);
    await expect(add({ backlog: 0 })).rejects.toThrow(/backlog/);
    await expect(add({ manager: 'pbs' })).rejects.toThrow(/only 'slurm'/);
    await expect(add({ sbatch_args: ['--output=x'] })).rejects.toThrow(/no --output/);
    await expect(add({}, backend([], { message: 'invalid partition specified: zz', unavailable: false }))).rejects.toThrow(/Slurm refused a test allocation.*invalid partition/);
    await expect(add({}, backend([], { message: 'killed after 30000 ms', unavailable: true }))).rejects.toMatchObject({ code: 'batch_system_unavailable', status: 503 });
  });
});

describe('drover alloc usage', () => {
  const ROOT = join(import.meta.dir, '../..');
  const cli = (...args: string[]) => {
    const p = Bun.spawnSync([process.execPath, join(ROOT, 'src/main.ts'), 'alloc', ...args], { env: { ...process.env, DROVER_URL: 'http://127.0.0.1:9', DROVER_TOKEN: 'drv_x' } });
    return { code: p.exitCode, err: p.stderr.toString() };
  };
  test('mistakes are exit 2 with one line naming the problem, before any request', () => {
    for (const [args, want] of [
      [['add', 'slurm', '--pool', 'p'], '--pool NAME and --time DUR are required'],
      [['add', 'pbs', '--pool', 'p', '--time', '1h'], "only 'slurm' is supported"],
      [['add', 'slurm', '--pool', 'p', '--time', '1h', '--max-allocs', '0'], '--max-allocs'],
      [['frob'], "unknown subcommand 'frob'"],
      [['log'], 'usage: drover alloc log QUEUE'],
    ] as const) {
      const r = cli(...args);
      expect(r.code).toBe(2);
      expect(r.err).toContain(want);
      expect(r.err.trim().split('\n').length).toBe(1);
    }
  });
});
