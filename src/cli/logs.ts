// `drover logs JOB [-f] [--command N]`: prints the stored (redacted) log; with -f streams it live
// over the WebSocket (resuming by byte offset after a reconnect) until the job ends, then exits 0
// if it succeeded, else 1.
import { intFlag } from './args.ts';
import { defineCommand, requireKind } from './command.ts';
import { followLog } from './follow.ts';
import type { Job } from './types.ts';

export const logsCommand = defineCommand({
  name: 'logs',
  usage: 'logs JOB [-f] [--command N]',
  summary: 'Print a job\'s log (all commands, or command N counted from 0).',
  args: [1, 1],
  flags: {
    follow: { type: 'boolean', short: 'f', help: 'keep printing until the job ends; exit 1 unless it succeeded' },
    command: { type: 'string', value: 'N', help: 'only command N (from 0)' },
  },
  async run({ flags, positionals: [id] }, ctx) {
    requireKind(id!, ['job'] as const);
    const command = intFlag('command', flags.command, 0);
    if (flags.follow) {
      const job = await followLog(ctx.client(), id!, { command });
      return job.status === 'succeeded' ? 0 : 1;
    }
    const res = await ctx.client().text(`/jobs/${id}/logs`, { command });
    if (res.bytes.length === 0) {
      // an empty log of a job that never started is not an empty output: say so
      const job = await ctx.client().get<Job>(`/jobs/${id}`);
      if (!job.started_at) {
        const why = job.status === 'skipped' || job.status === 'canceled' ? ` (${job.message ?? job.reason ?? job.status})` : ` — see 'drover why ${id}'`;
        process.stderr.write(`drover: job ${id} never started (status ${job.status}), so it has no log${why}\n`);
        return 0;
      }
    }
    process.stdout.write(res.bytes);
    return 0;
  },
});
