// `drover pause GROUP`: nothing new of the group starts; running jobs finish.
import { defineCommand, requireKind } from './command.ts';

export const pauseCommand = defineCommand({
  name: 'pause',
  usage: 'pause GROUP',
  summary: 'Pause a group: nothing new starts, running jobs finish.',
  args: [1, 1],
  flags: {},
  async run({ positionals: [id] }, ctx) {
    requireKind(id!, ['group'] as const);
    ctx.out.action('paused', id!, await ctx.client().post(`/groups/${id}/pause`));
    return 0;
  },
});
