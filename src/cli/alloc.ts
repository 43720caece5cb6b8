// `drover alloc add|ls|log|pause|resume|rm` (API.md §7): allocation queues, through /api/v1/alloc/queues.
//   alloc add slurm --pool NAME --time 1h [--nodes N] [--backlog 1] [--max-allocs N] [--idle 5m] [--name X] [-- SBATCH-ARGS…]
// `add` prints the server's warnings (a loopback URL that compute nodes cannot reach) on stderr.
import { CliError } from './args.ts';
import { defineCommand } from './command.ts';
import { allocQueueText, allocLogText, type AllocQueueView } from './output/alloc.ts';

const USAGE = 'alloc add slurm --pool NAME --time DUR [--nodes N] [--backlog N] [--max-allocs N] [--idle DUR] [--name X] [-- SBATCH-ARGS…] | alloc ls | alloc log QUEUE | alloc pause QUEUE | alloc resume QUEUE | alloc rm QUEUE';

function count(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new CliError(`drover alloc: --${flag} '${v}': expected a whole number of at least 1`);
  return n;
}

export const allocCommand = defineCommand({
  name: 'alloc',
  usage: USAGE,
  summary: 'Allocation queues: Slurm allocations whose agents run the queued jobs of a pool (pilot jobs).',
  args: [1, 200],
  flags: {
    pool: { type: 'string', value: 'NAME', help: 'add: the pool whose jobs (executor: agent, pool: NAME) the allocations run' },
    time: { type: 'string', value: 'DUR', help: 'add: walltime of each allocation (e.g. 1h)' },
    nodes: { type: 'string', value: 'N', help: 'add: nodes per allocation, one agent each (default 1)' },
    backlog: { type: 'string', value: 'N', help: 'add: allocations kept pending in Slurm at most (default 1)' },
    'max-allocs': { type: 'string', value: 'N', help: 'add: allocations alive at most (default 4)' },
    idle: { type: 'string', value: 'DUR', help: 'add: an allocation\'s agent exits after this long with nothing to do (default 5m)' },
    name: { type: 'string', value: 'X', help: 'add: the queue\'s name (default: the pool)' },
  },
  async run({ positionals, flags: f }, ctx) {
    const [sub, ...rest] = positionals;
    const client = ctx.client();
    const print = (v: unknown, text: () => string) => process.stdout.write(ctx.json ? JSON.stringify(v) + '\n' : text());
    const one = () => {
      if (rest.length !== 1) throw new CliError(`drover alloc ${sub}: usage: drover alloc ${sub} QUEUE`);
      return encodeURIComponent(rest[0]!);
    };
    switch (sub) {
      case 'add': {
        const [manager, ...sbatchArgs] = rest;
        if (manager !== 'slurm') throw new CliError(`drover alloc add: the first argument is the batch system, and only 'slurm' is supported (got ${manager ? `'${manager}'` : 'nothing'})`);
        if (!f.pool || !f.time) throw new CliError('drover alloc add: --pool NAME and --time DUR are required');
        const q = await client.post<AllocQueueView & { warnings: string[] }>('/alloc/queues', {
          manager, pool: f.pool, time: f.time, nodes: count(f.nodes, 'nodes'), backlog: count(f.backlog, 'backlog'),
          max_allocs: count(f['max-allocs'], 'max-allocs'), idle: f.idle, name: f.name, sbatch_args: sbatchArgs,
        });
        for (const w of q.warnings ?? []) process.stderr.write(`${w}\n`);
        print(q, () => `added allocation queue ${q.name} (${q.id})\n`);
        return 0;
      }
      case 'ls': {
        const page = await client.get<{ items: AllocQueueView[] }>('/alloc/queues');
        print(page, () => page.items.length ? page.items.map(allocQueueText).join('\n') : 'no allocation queues (add one with `drover alloc add slurm --pool NAME --time DUR`)\n');
        return 0;
      }
      case 'log': {
        const log = await client.get<Parameters<typeof allocLogText>[0]>(`/alloc/queues/${one()}/log`);
        print(log, () => allocLogText(log));
        return 0;
      }
      case 'pause': case 'resume': {
        const q = await client.post<AllocQueueView>(`/alloc/queues/${one()}/${sub}`);
        print(q, () => `${sub === 'pause' ? 'paused' : 'resumed'} allocation queue ${q.name}\n`);
        return 0;
      }
      case 'rm': {
        const q = await client.delete<AllocQueueView>(`/alloc/queues/${one()}`);
        print(q, () => `removing allocation queue ${q.name}: pending allocations are canceled, running ones finish their jobs\n`);
        return 0;
      }
      default:
        throw new CliError(`drover alloc: unknown subcommand ${sub ? `'${sub}'` : ''}; one of add, ls, log, pause, resume, rm`);
    }
  },
});
