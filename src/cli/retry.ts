// `drover retry RUN`: a new attempt of the failed/canceled jobs of a terminal run.
import { defineCommand, requireKind } from './command.ts';

export const retryCommand = defineCommand({
  name: 'retry',
  usage: 'retry RUN',
  summary: 'Retry the failed and canceled jobs of a finished run.',
  args: [1, 1],
  flags: {},
  async run({ positionals: [id] }, ctx) {
    requireKind(id!, ['run'] as const);
    ctx.out.action('retrying', id!, await ctx.client().post(`/runs/${id}/retry`));
    return 0;
  },
});
