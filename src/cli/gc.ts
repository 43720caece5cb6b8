// `drover gc [--dry-run]`: runs retention GC now on the server and prints its report.
import { defineCommand } from './command.ts';

export const gcCommand = defineCommand({
  name: 'gc',
  usage: 'gc [--dry-run] [--json]',
  summary: 'Apply retention now (keep_last, max_age); --dry-run only reports.',
  flags: { 'dry-run': { type: 'boolean', help: 'report what would be removed' } },
  async run({ flags }, ctx) {
    const dryRun = flags['dry-run'];
    ctx.out.gc(await ctx.client().post('/gc', undefined, dryRun ? { dry_run: true } : undefined), dryRun);
    return 0;
  },
});
