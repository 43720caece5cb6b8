// A small argv parser for the CLI, and CliError (a message + exit code, printed once by
// cli/command.ts or main.ts). Flags: `--x v`, `--x=v`, booleans, repeatable lists, short
// aliases (`-f`), `--` ends flags. It knows nothing about commands or the server.

/** `error` is what `--json` prints on stderr: {"error": {code, message, details}}. */
export class CliError extends Error {
  readonly code: string;
  readonly details: Record<string, unknown>;
  readonly plain: string;
  constructor(message: string, readonly exitCode = 2, e: { code?: string; details?: Record<string, unknown>; message?: string } = {}) {
    super(message);
    this.name = 'CliError';
    this.code = e.code ?? (exitCode === 2 ? 'usage' : 'failed');
    this.details = e.details ?? {};
    this.plain = e.message ?? message.replace(/^drover: /, '');
  }

  /** The line printed on stderr: the message, or with --json one JSON object. */
  render(json: boolean): string {
    return json ? JSON.stringify({ error: { code: this.code, message: this.plain, details: this.details } }) : this.message;
  }
}

export type FlagType = 'string' | 'boolean' | 'list';
export interface FlagDef {
  readonly type: FlagType;
  readonly short?: string;
  readonly value?: string; // placeholder in usage, e.g. 'N'
  readonly help?: string;
}
export type FlagDefs = Readonly<Record<string, FlagDef>>;

type ValueOf<D> = D extends { type: 'boolean' } ? boolean : D extends { type: 'list' } ? string[] : string | undefined;
export type FlagValues<F extends FlagDefs> = { -readonly [K in keyof F]: ValueOf<F[K]> };
export interface Parsed<F extends FlagDefs> {
  flags: FlagValues<F>;
  positionals: string[];
}

export const TOKEN_ON_COMMAND_LINE =
  'drover: tokens on the command line are visible to every user in ps; use DROVER_TOKEN or --token-file';

export function parseArgs<F extends FlagDefs>(argv: readonly string[], defs: F, cmd = 'drover'): Parsed<F> {
  const flags: Record<string, unknown> = {};
  for (const [name, d] of Object.entries(defs)) flags[name] = d.type === 'boolean' ? false : d.type === 'list' ? [] : undefined;
  const positionals: string[] = [];
  const hint = `(see '${cmd} --help')`;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') { positionals.push(...argv.slice(i + 1)); break; }
    let name: string;
    let inline: string | undefined;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      inline = eq < 0 ? undefined : arg.slice(eq + 1);
      if (name === 'token' && !defs.token) throw new CliError(TOKEN_ON_COMMAND_LINE);
    } else if (arg.length > 1 && arg.startsWith('-') && !/^-\d/.test(arg)) {
      const found = Object.entries(defs).find(([, d]) => d.short === arg.slice(1));
      if (!found) throw new CliError(`drover: unknown flag ${arg} ${hint}`);
      name = found[0];
    } else {
      positionals.push(arg);
      continue;
    }
    const def = defs[name];
    if (!def) throw new CliError(`drover: unknown flag --${name} ${hint}`);
    if (def.type === 'boolean') {
      if (inline === undefined || inline === 'true') flags[name] = true;
      else if (inline === 'false') flags[name] = false;
      else throw new CliError(`drover: --${name} takes no value ${hint}`);
      continue;
    }
    let value = inline;
    if (value === undefined) {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) throw new CliError(`drover: --${name} needs a value ${hint}`);
      value = next;
      i++;
    }
    if (def.type === 'list') (flags[name] as string[]).push(value);
    else flags[name] = value;
  }
  return { flags: flags as FlagValues<F>, positionals };
}

/** Parses an integer flag value; a usage error names the flag. */
export function intFlag(name: string, value: string | undefined, min = Number.MIN_SAFE_INTEGER): number | undefined {
  if (value === undefined) return undefined;
  if (!/^-?\d+$/.test(value) || Number(value) < min) throw new CliError(`drover: --${name} must be an integer${min > Number.MIN_SAFE_INTEGER ? ` >= ${min}` : ''}, got '${value}'`);
  return Number(value);
}

/** `k=v` pairs from repeated `--param`; numbers and booleans are JSON-parsed, the rest stay strings. */
/** A command-line value: numbers and booleans as such, anything else a string. */
export function parseValue(raw: string): unknown {
  const isJsonScalar = raw === 'true' || raw === 'false' || /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/.test(raw);
  return isJsonScalar ? JSON.parse(raw) : raw;
}

export function parseParams(pairs: readonly string[]): Record<string, unknown> | undefined {
  if (pairs.length === 0) return undefined;
  const out: Record<string, unknown> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new CliError(`drover: --param expects key=value, got '${pair}'`);
    out[pair.slice(0, eq)] = parseValue(pair.slice(eq + 1));
  }
  return out;
}

/** Usage lines for a set of flags, aligned. */
export function flagHelp(defs: FlagDefs): string {
  const rows = Object.entries(defs).map(([name, d]) => {
    const left = `${d.short ? `-${d.short}, ` : '    '}--${name}${d.type === 'boolean' ? '' : ` ${d.value ?? 'V'}`}`;
    return [left, (d.help ?? '') + (d.type === 'list' ? ' (repeatable)' : '')] as const;
  });
  const w = Math.max(0, ...rows.map(([l]) => l.length));
  return rows.map(([l, h]) => `  ${l.padEnd(w)}  ${h}`.trimEnd()).join('\n');
}
