// `drover plugin test FILE|NAME [--plugin-opt NAME.KEY=VALUE]…`: the executor conformance suite
// (src/plugins/conformance), shipped in the binary. Exit 0 only when every case passes (skips allowed).
import { defineCommand } from './command.ts';
import { CliError } from './args.ts';
import { table } from './format.ts';

export const pluginCommand = defineCommand({
  name: 'plugin',
  usage: 'plugin test FILE|NAME [--plugin-opt NAME.KEY=VALUE]... [--case NAME]...',
  summary: 'Run the executor conformance suite against a plugin file (or a built-in executor by name) on a private\n' +
    'server with a temp data dir: success with per-command logs, exit codes, allow_failure, outputs, timeout\n' +
    '(TERM then KILL), cancel, hostile quoting, a 5 MB log, re-adoption after kill -9, a missing backend.',
  flags: {
    'plugin-opt': { type: 'list', value: 'NAME.KEY=VALUE', help: 'a setting for the plugin (as for serve)' },
    case: { type: 'list', value: 'NAME', help: 'run only this case' },
    'job-timeout': { type: 'string', value: 'SECONDS', help: 'how long a job may take to be seen ending (default 60)' },
    keep: { type: 'boolean', help: 'keep the temp data dir (its path is printed)' },
  },
  args: [2, 2],
  async run(a, ctx) {
    const [sub, target] = a.positionals as [string, string];
    if (sub !== 'test') throw new CliError(`drover plugin: unknown subcommand '${sub}' (usage: drover plugin test FILE|NAME)`);
    const slow = a.flags['job-timeout'] ? Number(a.flags['job-timeout']) : 60;
    if (!Number.isFinite(slow) || slow <= 0) throw new CliError(`drover plugin test: --job-timeout must be a number of seconds (got '${a.flags['job-timeout']}')`);
    const { runSuite } = await import('../plugins/conformance/run.ts');
    const { PluginError } = await import('../plugins/registry.ts');
    let results;
    try {
      results = await runSuite({ target, pluginOpts: a.flags['plugin-opt'], only: a.flags.case, slowMs: slow * 1000, keep: a.flags.keep },
        (r) => { if (!ctx.json) process.stderr.write(`  ${r.result === 'pass' ? 'pass' : r.result === 'skip' ? 'skip' : 'FAIL'}  ${r.name}\n`); });
    } catch (e) {
      if (e instanceof PluginError) throw new CliError(`drover plugin test: ${e.message}`);
      throw e;
    }
    const failed = results.filter((r) => r.result === 'fail');
    if (ctx.json) process.stdout.write(JSON.stringify({ target, ok: failed.length === 0, cases: results }) + '\n');
    else {
      process.stdout.write(table(['CASE', 'RESULT', 'TIME', 'DETAIL'], results.map((r) => [r.name, r.result === 'fail' ? 'FAIL' : r.result, `${(r.ms / 1000).toFixed(1)}s`, r.detail || r.what])));
      process.stdout.write(`${failed.length === 0 ? 'conformance: all cases pass' : `conformance: ${failed.length} of ${results.length} cases fail (${failed.map((r) => r.name).join(', ')})`}\n`);
    }
    return failed.length === 0 ? 0 : 1;
  },
});
