// `drover results GROUP [--csv|--json] [--sort KEY]`: one row per run of a sweep — params, outputs,
// status, exit code, times — as a table, as CSV (one column per param and per output key) or as JSON.
import { CliError } from './args.ts';
import { defineCommand, requireKind } from './command.ts';
import type { Page, ResultRow } from './types.ts';

export const resultsCommand = defineCommand({
  name: 'results',
  usage: 'results GROUP [--csv|--json] [--sort KEY]',
  summary: 'Show which point of a sweep gave what: one row per run with its params, outputs, status, exit code and times.',
  args: [1, 1],
  flags: {
    csv: { type: 'boolean', help: 'print CSV (one column per param and per output key)' },
    sort: { type: 'string', value: 'KEY', help: 'sort by a param, output or column (-KEY: descending); numbers sort as numbers' },
  },
  async run({ flags, positionals: [id] }, ctx) {
    requireKind(id!, ['group'] as const);
    if (flags.csv && ctx.json) throw new CliError('drover: use either --csv or --json, not both');
    const query = { format: flags.csv ? 'csv' : 'json', ...(flags.sort ? { sort: flags.sort } : {}) };
    if (flags.csv) {
      const res = await ctx.client().text(`/groups/${id}/results`, query);
      process.stdout.write(res.text);
      return 0;
    }
    const page = await ctx.client().get<Page<ResultRow>>(`/groups/${id}/results`, query);
    ctx.out.results(page.items);
    return 0;
  },
});
