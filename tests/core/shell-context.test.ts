// ${{ }} in every quoting context, judged by real bash: the command must see exactly the value
// (bytes compared), nothing in the value may run (a canary file), and unsafe places are refused
// with the column. Plus a property test over random hostile strings.
import { describe, expect, test } from 'bun:test';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DroverError } from '../../src/core/errors.ts';
import { checkRefs, renderCommand, validateSpec } from '../../src/core/spec/index.ts';

/** Hostile values: spaces, both quotes, $(…), backticks, backslashes, $HOME, newlines, #SBATCH. */
export const HOSTILE = [
  'plain', '', 'two words', "it's", 'say "hi"', `both ' and "`, '$(touch CANARY)', '`touch CANARY`',
  'back\\slash\\', '\\', '$HOME', '${HOME}', 'a\nb', '\n#SBATCH --job-name=evil\n', "'; touch CANARY; '",
  '"; touch CANARY; "', '\\"; touch CANARY; #', "\\'$(touch CANARY)", '*', '~', '!x', '$\'\\x41\'', '-n',
  "x'\"`$\\\n\t y", '}}', '${{ params.v }}', ')', '$((1+1))', 'a;b|c&d>e<f', '#not a comment', 'EOF',
];

/** Templates: the command prints the value (maybe inside more text); `expect` gives what it must print. */
export const CONTEXTS: { name: string; cmd: string; expect: (v: string) => string }[] = [
  { name: 'unquoted', cmd: "printf '%s' ${{ params.v }}", expect: (v) => v },
  { name: 'double quotes', cmd: 'printf \'%s\' "${{ params.v }}"', expect: (v) => v },
  { name: 'single quotes', cmd: "printf '%s' '${{ params.v }}'", expect: (v) => v },
  { name: '"pre-…-post"', cmd: 'printf \'%s\' "pre-${{ params.v }}-post"', expect: (v) => `pre-${v}-post` },
  { name: "'pre-…-post'", cmd: "printf '%s' 'pre-${{ params.v }}-post'", expect: (v) => `pre-${v}-post` },
  { name: 'pre-…-post unquoted', cmd: "printf '%s' pre-${{ params.v }}-post", expect: (v) => `pre-${v}-post` },
  { name: 'inside $( ) unquoted', cmd: 'printf \'%s\' "$(printf \'%s\' ${{ params.v }})"', expect: (v) => v.replace(/\n+$/, '') },
  { name: 'inside $( ) in "…"', cmd: 'printf \'%s\' "$(printf \'%s\' "<${{ params.v }}>")"', expect: (v) => `<${v}>` },
  { name: "inside $( ) in '…'", cmd: "printf '%s' \"$(printf '%s' '<${{ params.v }}>')\"", expect: (v) => `<${v}>` },
  { name: 'inside backquotes', cmd: "printf '%s' \"`printf '%s' ${{ params.v }}`\"", expect: (v) => v.replace(/\n+$/, '') },
  { name: 'inside backquotes in "…"', cmd: 'printf \'%s\' "`printf \'%s\' "<${{ params.v }}>"`"', expect: (v) => `<${v}>` },
  { name: "inside backquotes in '…'", cmd: "printf '%s' \"`printf '%s' '<${{ params.v }}>'`\"", expect: (v) => `<${v}>` },
  { name: 'nested backquotes', cmd: 'printf \'%s\' "`printf \'%s\' \\"\\`printf \'%s\' \\\\"<${{ params.v }}>\\\\"\\`\\"`"', expect: (v) => `<${v}>` },
  { name: "$'…'", cmd: "printf '%s' $'<\\t${{ params.v }}>'", expect: (v) => `<\t${v}>` },
  { name: 'case inside $( )', cmd: 'printf \'%s\' "$(case x in x) printf \'%s\' "<${{ params.v }}>";; esac)"', expect: (v) => `<${v}>` },
  { name: 'after a heredoc', cmd: "cat <<'EOF' >/dev/null\nbody\nEOF\nprintf '%s' \"${{ params.v }}\"", expect: (v) => v },
  { name: 'here-string', cmd: 'cat <<< "${{ params.v }}" | head -c -1', expect: (v) => v },
  { name: 'assignment', cmd: 'x=${{ params.v }}; printf \'%s\' "$x"', expect: (v) => v },
  { name: '# inside a word', cmd: "printf '%s' a#${{ params.v }}", expect: (v) => `a#${v}` },
];

function bash(cmd: string, cwd: string): { out: string; err: string; code: number | null; signal?: string } {
  const p = Bun.spawnSync(['bash', '-c', cmd], { cwd, env: { PATH: process.env.PATH!, HOME: '/home-of-nobody' } });
  return { out: p.stdout.toString(), err: p.stderr.toString(), code: p.exitCode, signal: p.signalCode == null ? undefined : String(p.signalCode) };
}

const render = (cmd: string, v: unknown) => renderCommand(cmd, { params: { v }, needs: {} });

function err(fn: () => unknown): DroverError {
  try { fn(); } catch (e) { if (e instanceof DroverError) return e; throw e; }
  throw new Error('expected a DroverError');
}

describe('${{ }} in every quoting context (real bash)', () => {
  for (const ctx of CONTEXTS) {
    test(ctx.name, () => {
      const dir = mkdtempSync(join(tmpdir(), 'drover-quote-'));
      for (const v of HOSTILE) {
        const r = bash(render(ctx.cmd, v), dir);
        expect({ v, out: r.out, err: r.err }).toEqual({ v, out: ctx.expect(v), err: '' });
      }
      expect(readdirSync(dir)).toEqual([]); // the canary: nothing in any value ran
    });
  }

  test('needs outputs and non-string values are inserted the same way', () => {
    const ctx = { params: { n: 0.1, tags: ['a', "b'c"] }, needs: { build: { rev: 'x "y" $z' } } };
    const cmd = 'printf \'%s|\' "r=${{ needs.build.outputs.rev }}" \'n=${{ params.n }}\' ${{ params.tags }}';
    expect(bash(renderCommand(cmd, ctx), tmpdir()).out).toBe(`r=x "y" $z|n=0.1|["a","b'c"]|`);
  });

  test('a NUL byte in a value is refused (bash would cut the value short)', () => {
    expect(err(() => render('echo ${{ params.v }}', 'a\0b')).message).toMatch(/NUL byte/);
  });
});

describe('places where no value is safe are refused with the column', () => {
  const cases: [string, string, RegExp][] = [
    ['heredoc body', 'cat <<EOF\nhello ${{ params.v }}\nEOF', /line 2, column 7: .*heredoc body/],
    ['quoted heredoc body', "cat <<-'EOF'\n\t${{ params.v }}\n\tEOF", /line 2, column 2: .*heredoc body/],
    ['heredoc delimiter', 'cat <<${{ params.v }}\nx\n', /column 7: .*heredoc delimiter/],
    ['comment', 'echo hi # ${{ params.v }}', /column 11: .*comment/],
    ['comment inside $( )', 'echo "$(true # ${{ params.v }}\n)"', /column 16: .*comment/],
    ['unterminated double quote', 'echo "${{ params.v }}', /column 6: .*unterminated double quote/],
    ['unterminated single quote', "echo ${{ params.v }} 'x", /column 22: .*unterminated single quote/],
    ['unterminated backquote', 'echo `echo ${{ params.v }}', /column 6: .*unterminated backquote/],
    ['unterminated $(', 'echo $(echo ${{ params.v }}', /unterminated \$\(/],
    ['after a backslash', 'echo \\${{ params.v }}', /column 7: .*right after a backslash/],
    ['after a backslash in "…"', 'echo "\\${{ params.v }}"', /column 8: .*backslash/],
    ["after a backslash in $'…'", "echo $'\\${{ params.v }}'", /column 9: .*backslash/],
    ['after a $', 'echo $${{ params.v }}', /column 7: .*'\$'/],
    ['after a $ in "…"', 'echo "$${{ params.v }}"', /column 8: .*'\$'/],
    ['arithmetic $(( ))', 'echo $(( ${{ params.v }} + 1 ))', /column 10: .*arithmetic/],
    ['arithmetic (( ))', '(( ${{ params.v }} > 1 ))', /column 4: .*arithmetic/],
    ['arithmetic $[ ]', 'echo $[ ${{ params.v }} ]', /arithmetic/],
    ['parameter expansion', 'echo ${HOME:-${{ params.v }}}', /column 14: .*parameter expansion/],
    ['quotes in ${…} inside "…"', 'echo "${x:-\'a\'}" ${{ params.v }}', /quote inside \$\{…\}/],
  ];
  for (const [name, cmd, re] of cases) {
    test(name, () => {
      const e = err(() => render(cmd, 'x'));
      expect(e.code).toBe('invalid_spec');
      expect(e.message).toMatch(re);
      expect(e.details?.column).toBeNumber();
    });
  }

  test('checked at submit: validateSpec names the command and column', () => {
    const spec = { name: 'p', params: { v: 1 }, stages: [{ name: 's', commands: ['true', 'cat <<EOF\n${{ params.v }}\nEOF'] }] };
    const e = err(() => validateSpec(spec, { executors: ['local'] }));
    expect(e.message).toMatch(/^stages\[0\]\.jobs\[0\]\.commands\[1\], line 2, column 1: \$\{\{ params\.v \}\} cannot stand here: it is inside a heredoc body/);
    expect(e.details).toMatchObject({ path: 'stages[0].jobs[0].commands[1]', line: 2, column: 1 });
  });

  test('a command without ${{ }} is never refused, however odd its quoting', () => {
    const spec = validateSpec({ name: 'p', stages: [{ name: 's', commands: ['echo "unterminated', 'cat <<EOF\nx\nEOF'] }] }, { executors: ['local'] });
    expect(() => checkRefs(spec, {})).not.toThrow();
  });
});

describe('property: random hostile strings in every context', () => {
  const ALPHABET = [..."abc xyz'\"`$\\(){}[];&|<>#*?~!\n\t-=%^", '${{', '}}', '$(', 'EOF', 'é', '💥'];
  function randomValue(rnd: () => number): string {
    let s = '';
    const n = Math.floor(rnd() * 12);
    for (let i = 0; i < n; i++) s += ALPHABET[Math.floor(rnd() * ALPHABET.length)];
    return s;
  }
  // a small seeded generator, so a failure can be replayed
  function mulberry32(seed: number) {
    return () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  test('30 random values (DROVER_QUOTE_SEED replays a failure) × every context: exact bytes, nothing runs', () => {
    const seed = Number(process.env.DROVER_QUOTE_SEED ?? Date.now() % 100_000);
    const rnd = mulberry32(seed);
    const dir = mkdtempSync(join(tmpdir(), 'drover-quote-prop-'));
    const SEP = '\u001e';
    for (let n = 0; n < 30; n++) {
      const v = randomValue(rnd);
      // one bash per value: every context, separated by a byte no value contains
      const script = CONTEXTS.map((c) => `${render(c.cmd, v)}\nprintf '${SEP}'`).join('\n');
      const r = bash(script, dir);
      const want = CONTEXTS.map((c) => c.expect(v) + SEP).join('');
      if (r.out !== want || r.err !== '') {
        const got = r.out.split(SEP);
        const bad = CONTEXTS.findIndex((c, i) => got[i] !== c.expect(v));
        throw new Error(`seed ${seed}: value ${JSON.stringify(v)} in context '${CONTEXTS[bad]?.name}': got ${JSON.stringify(got[bad])} (stderr ${JSON.stringify(r.err)}, exit ${r.code} ${r.signal}, ${r.out.length} chars)`);
      }
    }
    expect(existsSync(join(dir, 'CANARY'))).toBe(false);
    expect(readdirSync(dir)).toEqual([]);
  }, 120_000);
});
