// defineCommand(): turns a command description (usage, flags, run) into the
// `(argv) => Promise<number>` that main.ts calls. Adds the common connection flags,
// `--help`, picks the Output once, and prints a CliError as one line on stderr.
import { CliError, flagHelp, parseArgs, type FlagDefs, type Parsed } from './args.ts';
import { Client, resolveConnection } from './client.ts';
import { humanOutput } from './output/human.ts';
import { jsonOutput } from './output/json.ts';
import type { Output } from './types.ts';

export const COMMON_FLAGS = {
  json: { type: 'boolean', help: 'print the server\'s JSON' },
  url: { type: 'string', value: 'URL', help: 'server URL (else DROVER_URL, <data-dir>/server.json, http://127.0.0.1:7070)' },
  'data-dir': { type: 'string', value: 'DIR', help: 'data dir (else DROVER_DATA_DIR, ~/.drover)' },
  'token-file': { type: 'string', value: 'F', help: 'read the token from F (else DROVER_TOKEN, <data-dir>/admin.token)' },
  help: { type: 'boolean', short: 'h', help: 'show this help' },
} as const satisfies FlagDefs;

export interface Context {
  readonly out: Output;
  readonly json: boolean;
  client(): Client;
}

export interface CommandDef<F extends FlagDefs> {
  name: string;
  usage: string; // e.g. 'submit FILE [--param k=v]...'
  summary: string;
  flags: F;
  args?: [min: number, max: number]; // positional count, default [0, 0]
  run(a: Parsed<F & typeof COMMON_FLAGS>, ctx: Context): Promise<number>;
}

export function usageText(def: CommandDef<FlagDefs>): string {
  return `usage: drover ${def.usage}\n\n${def.summary}\n\nflags:\n${flagHelp({ ...def.flags, ...COMMON_FLAGS })}\n`;
}

export function defineCommand<F extends FlagDefs>(def: CommandDef<F>): (argv: string[]) => Promise<number> {
  return async (argv) => {
    try {
      const a = parseArgs(argv, { ...def.flags, ...COMMON_FLAGS } as F & typeof COMMON_FLAGS, `drover ${def.name}`);
      if (a.flags.help) {
        process.stdout.write(usageText(def as unknown as CommandDef<FlagDefs>));
        return 0;
      }
      const [min, max] = def.args ?? [0, 0];
      if (a.positionals.length < min || a.positionals.length > max) {
        throw new CliError(`drover: usage: drover ${def.usage}`);
      }
      let client: Client | undefined;
      const f = a.flags as { url?: string; 'data-dir'?: string; 'token-file'?: string; json: boolean };
      const ctx: Context = {
        json: f.json,
        out: f.json ? jsonOutput() : humanOutput(),
        client: () => (client ??= new Client(resolveConnection({ url: f.url, dataDir: f['data-dir'], tokenFile: f['token-file'] }))),
      };
      return await def.run(a, ctx);
    } catch (e) {
      if (!(e instanceof CliError)) throw e;
      process.stderr.write(e.render(argv.includes('--json')) + '\n');
      return e.exitCode;
    }
  };
}

/** Which resource an id names, from its prefix. */
export function kindOf(id: string): 'run' | 'group' | 'job' | undefined {
  return id.startsWith('r_') ? 'run' : id.startsWith('g_') ? 'group' : id.startsWith('j_') ? 'job' : undefined;
}

export function requireKind<K extends 'run' | 'group' | 'job'>(id: string, allowed: readonly K[]): K {
  const k = kindOf(id);
  if (!k || !(allowed as readonly string[]).includes(k) || !/^[rgj]_[A-Za-z0-9_-]+$/.test(id)) {
    const want = allowed.map((x) => `${x[0]}_… (${x})`).join(', ');
    throw new CliError(`drover: '${id}' is not a valid id here; expected ${want}`);
  }
  return k as K;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
