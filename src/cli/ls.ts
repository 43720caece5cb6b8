// `drover ls [runs|groups|jobs]`: one page of a list endpoint, newest first, as a table
// (or the server's `{items, next_cursor}` with --json).
import { CliError, intFlag } from './args.ts';
import { defineCommand } from './command.ts';
import type { ListKind, Page } from './types.ts';

const KINDS: readonly ListKind[] = ['runs', 'groups', 'jobs'];

export const lsCommand = defineCommand({
  name: 'ls',
  usage: 'ls [runs|groups|jobs] [--status S] [--limit N] [--json]',
  summary: 'List runs (default), groups or jobs, newest first.',
  args: [0, 1],
  flags: {
    status: { type: 'string', value: 'S', help: 'only this status' },
    limit: { type: 'string', value: 'N', help: 'at most N items' },
    pipeline: { type: 'string', value: 'NAME', help: 'runs/groups of this pipeline' },
    group: { type: 'string', value: 'G', help: 'runs of this group' },
    run: { type: 'string', value: 'R', help: 'jobs of this run' },
    cursor: { type: 'string', value: 'C', help: 'continue from a previous page' },
  },
  async run({ flags, positionals }, ctx) {
    const kind = (positionals[0] ?? 'runs') as ListKind;
    if (!KINDS.includes(kind)) throw new CliError(`drover: ls lists runs, groups or jobs, not '${kind}'`);
    const page = await ctx.client().get<Page<never>>(`/${kind}`, {
      status: flags.status, limit: intFlag('limit', flags.limit, 1), pipeline: flags.pipeline,
      group: flags.group, run: flags.run, cursor: flags.cursor,
    });
    ctx.out.list(kind, page ?? { items: [], next_cursor: null });
    return 0;
  },
});
