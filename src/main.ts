#!/usr/bin/env bun
// drover's entry point: argv → one cli/<command>.ts, loaded lazily; nothing else.
// Sets process.exitCode (never process.exit, which would cut piped stdout short).
import pkg from '../package.json';
import { didYouMean } from './core/spec/suggest.ts';

type CommandFn = (argv: string[]) => Promise<number>;
type Entry = readonly [summary: string, load: () => Promise<CommandFn | undefined>];

const COMMANDS: Record<string, Entry> = {
  serve: ['run the server: API, scheduler, executors', async () => {
    // @ts-ignore: another owner's file, maybe absent; inside try, so the bundler accepts a build without it
    try { return (await import('./cli/serve.ts')).serveCommand; } catch (e) { return absent('serve', e); }
  }],
  submit: ['submit a pipeline spec (--wait, --follow, --dry-run)', async () => (await import('./cli/submit.ts')).submitCommand],
  ls: ['list runs, groups or jobs', async () => (await import('./cli/ls.ts')).lsCommand],
  status: ['show a run, group or job', async () => (await import('./cli/status.ts')).statusCommand],
  logs: ['print (-f: follow) a job\'s log', async () => (await import('./cli/logs.ts')).logsCommand],
  cancel: ['cancel a run, group or job', async () => (await import('./cli/cancel.ts')).cancelCommand],
  pause: ['pause a group', async () => (await import('./cli/pause.ts')).pauseCommand],
  resume: ['resume a paused group', async () => (await import('./cli/resume.ts')).resumeCommand],
  retry: ['retry the failed jobs of a run', async () => (await import('./cli/retry.ts')).retryCommand],
  why: ['explain why a job is not running', async () => (await import('./cli/why.ts')).whyCommand],
  graph: ['print a run\'s DAG (dot, mermaid, json)', async () => (await import('./cli/graph.ts')).graphCommand],
  results: ['a sweep\'s results: one row per run (params, outputs, status; --csv, --json)', async () => (await import('./cli/results.ts')).resultsCommand],
  queue: ['show the queue, executors and daemon heartbeat', async () => (await import('./cli/queue.ts')).queueCommand],
  alloc: ['allocation queues: Slurm allocations that run a pool\'s jobs (add, ls, log, pause, resume, rm)', async () => (await import('./cli/alloc.ts')).allocCommand],
  pipelines: ['list pipelines, or show one: schedule (next fire times), topic, webhook, cost', async () => (await import('./cli/pipelines.ts')).pipelinesCommand],
  gc: ['apply retention now (--dry-run to preview)', async () => (await import('./cli/gc.ts')).gcCommand],
  token: ['create, list or delete API tokens', async () => (await import('./cli/token.ts')).tokenCommand],
  doctor: ['check this installation (filesystem, space, database, clock, Slurm, GPUs, server, tokens) and print fixes', async () => (await import('./cli/doctor.ts')).doctorCommand],
  plugin: ["'plugin test FILE': run the executor conformance suite against a plugin (docs/PLUGINS.md)", async () => (await import('./cli/plugin.ts')).pluginCommand],
  verify: ['check a run\'s signed result.json (attestation)', async () => (await import('./cli/verify.ts')).verifyCommand],
  secret: ['set, list or delete secrets', async () => {
    // @ts-ignore: another owner's file, maybe absent; inside try, so the bundler accepts a build without it
    try { return (await import('./cli/secret.ts')).secretCommand; } catch (e) { return absent('secret', e); }
  }],
  agent: ['run a remote agent that claims jobs', async () => {
    // @ts-ignore: another owner's file, maybe absent; inside try, so the bundler accepts a build without it
    try { return (await import('./cli/agent.ts')).agentCommand; } catch (e) { return absent('agent', e); }
  }],
};

function usage(): string {
  const w = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  const lines = Object.entries(COMMANDS).map(([name, [summary]]) => `  ${name.padEnd(w)}  ${summary}`);
  return `usage: drover <command> [flags]\n\ncommands:\n${lines.join('\n')}\n\n` +
    `'drover <command> --help' shows a command's flags; 'drover --version' the version.\n` +
    `Server and token come from --url/--token-file, DROVER_URL/DROVER_TOKEN, or the data dir (~/.drover).\n`;
}

/** An optional command whose own file is missing loads as undefined; any other import error is rethrown. */
function absent(name: string, e: unknown): undefined {
  const missing = (e as { code?: string }).code === 'ERR_MODULE_NOT_FOUND' && String((e as Error).message).includes(`${name}.ts`);
  if (!missing) throw e;
  return undefined;
}

async function load(name: string): Promise<CommandFn> {
  const fn = await COMMANDS[name]![1]();
  if (typeof fn !== 'function') throw Object.assign(new Error(`drover: '${name}' is not available in this build`), { exitCode: 2 });
  return fn;
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === '--version' || cmd === '-V' || cmd === 'version') {
    process.stdout.write(`drover ${pkg.version}\n`);
    return 0;
  }
  if (cmd === undefined || cmd === 'help' || cmd === '--help' || cmd === '-h') {
    if (cmd === 'help' && rest[0] && COMMANDS[rest[0]]) return (await load(rest[0]))(['--help']);
    process.stdout.write(usage());
    return 0;
  }
  if (!Object.hasOwn(COMMANDS, cmd)) {
    const message = `unknown command '${cmd}'${didYouMean(cmd, Object.keys(COMMANDS))} (see 'drover help')`;
    process.stderr.write(rest.includes('--json') ? `${JSON.stringify({ error: { code: 'usage', message, details: {} } })}\n` : `drover: ${message}\n`);
    return 2;
  }
  return (await load(cmd))(rest);
}

/** A reader that closed our stdout (`drover ls | head -1`) has all it wanted: end quietly. */
const closedPipe = (e: unknown) => (e as { code?: string } | null)?.code === 'EPIPE';
process.stdout.on('error', (e) => { if (closedPipe(e)) process.exit(0); throw e; });

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (e) {
  if (closedPipe(e)) process.exit(0);
  const exitCode = (e as { exitCode?: number }).exitCode;
  const json = process.argv.includes('--json');
  if (typeof exitCode === 'number') process.stderr.write(json ? `${JSON.stringify({ error: { code: 'usage', message: (e as Error).message.replace(/^drover: /, ''), details: {} } })}\n` : `${(e as Error).message}\n`);
  else process.stderr.write(`drover: internal error: ${process.env.DROVER_DEBUG ? (e as Error).stack : (e as Error).message}\n`);
  process.exitCode = typeof exitCode === 'number' ? exitCode : 2;
}
