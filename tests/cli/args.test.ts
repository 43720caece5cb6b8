// cli/args.ts: the argv parser, --param parsing, and the refusal of tokens on the command line.
import { describe, expect, test } from 'bun:test';
import { CliError, intFlag, parseArgs, parseParams, TOKEN_ON_COMMAND_LINE } from '../../src/cli/args.ts';

const DEFS = {
  priority: { type: 'string' },
  wait: { type: 'boolean' },
  param: { type: 'list' },
  follow: { type: 'boolean', short: 'f' },
} as const;

function usageError(fn: () => unknown): CliError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(CliError);
    expect((e as CliError).exitCode).toBe(2);
    expect((e as CliError).message).not.toContain('\n');
    return e as CliError;
  }
  throw new Error('expected a usage error');
}

describe('parseArgs', () => {
  test('reads `--x v`, `--x=v`, booleans, repeatable lists, short flags and positionals', () => {
    const a = parseArgs(['spec.yaml', '--priority', '5', '--param', 'lr=0.1', '--param=seed=2', '--wait', '-f', 'extra'], DEFS);
    expect(a.positionals).toEqual(['spec.yaml', 'extra']);
    expect(a.flags).toEqual({ priority: '5', wait: true, param: ['lr=0.1', 'seed=2'], follow: true });
  });

  test('defaults: booleans false, lists empty, strings undefined', () => {
    expect(parseArgs([], DEFS).flags).toEqual({ priority: undefined, wait: false, param: [], follow: false });
  });

  test('`--flag=false` turns a boolean off; a value on a boolean is an error', () => {
    expect(parseArgs(['--wait=false'], DEFS).flags.wait).toBe(false);
    expect(usageError(() => parseArgs(['--wait=yes'], DEFS)).message).toContain('--wait');
  });

  test('a negative number is a value or a positional, not a flag', () => {
    const a = parseArgs(['--priority', '-3', '-1'], DEFS);
    expect(a.flags.priority).toBe('-3');
    expect(a.positionals).toEqual(['-1']);
  });

  test('`--` ends the flags', () => {
    expect(parseArgs(['--', '--wait', 'x'], DEFS).positionals).toEqual(['--wait', 'x']);
  });

  test('an unknown flag is a one-line usage error naming it', () => {
    expect(usageError(() => parseArgs(['--bogus', '1'], DEFS, 'drover ls')).message).toBe("drover: unknown flag --bogus (see 'drover ls --help')");
    expect(usageError(() => parseArgs(['-x'], DEFS)).message).toContain('-x');
  });

  test('a string flag without a value is a usage error', () => {
    expect(usageError(() => parseArgs(['--priority'], DEFS)).message).toContain('--priority needs a value');
    expect(usageError(() => parseArgs(['--priority', '--wait'], DEFS)).message).toContain('--priority needs a value');
  });

  test('refuses a token on the command line, whatever its form, and says why', () => {
    for (const argv of [['--token', 'secret'], ['--token=secret'], ['--token']]) {
      const e = usageError(() => parseArgs(argv, DEFS));
      expect(e.message).toBe(TOKEN_ON_COMMAND_LINE);
      expect(e.message).toContain('visible to every user in ps');
      expect(e.message).not.toContain('secret');
    }
  });
});

describe('parseParams', () => {
  test('JSON-parses numbers and booleans, keeps the rest as strings', () => {
    expect(parseParams(['lr=0.01', 'epochs=3', 'big=1e3', 'neg=-2', 'on=true', 'off=false', 'name=resnet', 'zip=01', 'n=null', 'eq=a=b', 'empty='])).toEqual({
      lr: 0.01, epochs: 3, big: 1000, neg: -2, on: true, off: false, name: 'resnet', zip: '01', n: 'null', eq: 'a=b', empty: '',
    });
  });

  test('no params → undefined (not sent); a pair without a key is a usage error', () => {
    expect(parseParams([])).toBeUndefined();
    expect(usageError(() => parseParams(['lr'])).message).toContain("'lr'");
    expect(usageError(() => parseParams(['=1'])).message).toContain('key=value');
  });
});

describe('intFlag', () => {
  test('parses integers and names the flag when it cannot', () => {
    expect(intFlag('limit', '20', 1)).toBe(20);
    expect(intFlag('limit', undefined)).toBeUndefined();
    expect(usageError(() => intFlag('limit', 'ten', 1)).message).toContain('--limit');
    expect(usageError(() => intFlag('limit', '0', 1)).message).toContain('>= 1');
  });
});
