// `drover resume GROUP`: undoes `pause`; the group's queued runs may start again.
import { defineCommand, requireKind } from './command.ts';

export const resumeCommand = defineCommand({
  name: 'resume',
  usage: 'resume GROUP',
  summary: 'Resume a paused group.',
  args: [1, 1],
  flags: {},
  async run({ positionals: [id] }, ctx) {
    requireKind(id!, ['group'] as const);
    ctx.out.action('resumed', id!, await ctx.client().post(`/groups/${id}/resume`));
    return 0;
  },
});
