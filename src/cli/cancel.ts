// `drover cancel ID`: cancels a run (r_), a group (g_) or a single job (j_). Idempotent on
// the server; queued work is dropped and running work stopped.
import { defineCommand, requireKind } from './command.ts';

const PATH = { run: 'runs', group: 'groups', job: 'jobs' } as const;

export const cancelCommand = defineCommand({
  name: 'cancel',
  usage: 'cancel ID',
  summary: 'Cancel a run (r_…), a group of runs (g_…) or one job (j_…).',
  args: [1, 1],
  flags: {},
  async run({ positionals: [id] }, ctx) {
    const kind = requireKind(id!, ['run', 'group', 'job'] as const);
    ctx.out.action('cancel requested', id!, await ctx.client().post(`/${PATH[kind]}/${id}/cancel`));
    return 0;
  },
});
