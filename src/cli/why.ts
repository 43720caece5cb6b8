// `drover why JOB`: why a job is not running yet — the server's Blocker list rendered as
// "blocked: yes/no", one line per reason, then the blockers it had over time.
import { defineCommand, requireKind } from './command.ts';
import type { Why } from './types.ts';

export const whyCommand = defineCommand({
  name: 'why',
  usage: 'why JOB [--json]',
  summary: 'Explain why a job is not running (yet).',
  args: [1, 1],
  flags: {},
  async run({ positionals: [id] }, ctx) {
    requireKind(id!, ['job'] as const);
    ctx.out.why(await ctx.client().get<Why>(`/jobs/${id}/why`));
    return 0;
  },
});
