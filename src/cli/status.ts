// `drover status ID`: a run (stages → jobs tree), a group (counts + its runs) or a job
// (commands, attempts), chosen by the id prefix r_/g_/j_. A group shows its results table.
import { defineCommand, requireKind } from './command.ts';
import type { Group, Job, Page, ResultRow, Run } from './types.ts';

export const statusCommand = defineCommand({
  name: 'status',
  usage: 'status ID [--json]',
  summary: 'Show a run (r_…) with its stages and jobs, a group (g_…) or a job (j_…).',
  args: [1, 1],
  flags: {},
  async run({ positionals: [id] }, ctx) {
    const client = ctx.client();
    const kind = requireKind(id!, ['run', 'group', 'job'] as const);
    if (kind === 'run') ctx.out.run(await client.get<Run>(`/runs/${id}`));
    else if (kind === 'job') ctx.out.job(await client.get<Job>(`/jobs/${id}`));
    else {
      const group = await client.get<Group>(`/groups/${id}`);
      // people get the sweep's results table (params and outputs as columns); --json is the group as served
      const results = ctx.json ? undefined : (await client.get<Page<ResultRow>>(`/groups/${id}/results`)).items;
      ctx.out.group(group, results);
    }
    return 0;
  },
});
