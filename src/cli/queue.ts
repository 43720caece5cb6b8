// `drover queue`: what runs and waits, executor capacity, groups, and the daemon's
// heartbeat age (a stale heartbeat means the scheduler is stuck or gone).
import { defineCommand } from './command.ts';
import type { Queue } from './types.ts';

export const queueCommand = defineCommand({
  name: 'queue',
  usage: 'queue [--json]',
  summary: 'Show running/queued counts, executors, groups and the daemon heartbeat.',
  flags: {},
  async run(_a, ctx) {
    ctx.out.queue(await ctx.client().get<Queue>('/queue'));
    return 0;
  },
});
