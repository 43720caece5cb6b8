// `drover graph RUN [--format dot|mermaid|json]`: prints the run's DAG as the server
// renders it (dot by default; pipe into `dot -Tsvg`).
import { CliError } from './args.ts';
import { defineCommand, requireKind } from './command.ts';

const FORMATS = ['dot', 'mermaid', 'json'];

export const graphCommand = defineCommand({
  name: 'graph',
  usage: 'graph RUN [--format dot|mermaid|json]',
  summary: 'Print a run\'s stage/job graph with statuses.',
  args: [1, 1],
  flags: { format: { type: 'string', value: 'F', help: 'dot (default), mermaid or json' } },
  async run({ flags, positionals: [id] }, ctx) {
    requireKind(id!, ['run'] as const);
    const format = flags.format ?? (ctx.json ? 'json' : 'dot');
    if (!FORMATS.includes(format)) throw new CliError(`drover: --format must be dot, mermaid or json, not '${format}'`);
    const res = await ctx.client().text(`/runs/${id}/graph`, { format });
    if (format === 'json') ctx.out.text(res.text);
    else process.stdout.write(res.text.endsWith('\n') ? res.text : res.text + '\n');
    return 0;
  },
});
