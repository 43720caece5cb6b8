// Tests for the pipeline spec module: parsing, validation errors, matrix, interpolation quoting, validator.
import { describe, expect, test } from 'bun:test';
import { DroverError } from '../../src/core/errors.ts';
import {
  checkReferences, countMatrix, expandMatrix, parseDuration, parseSize, parseSpecText, referencedParams,
  rejectDangerous, renderCommand, shellQuote, validateSpec, type PipelineSpec,
} from '../../src/core/spec/index.ts';

const EXECUTORS = ['local', 'gpu', 'slurm'] as const;
const validate = (x: unknown) => validateSpec(x, { executors: EXECUTORS });

function err(fn: () => unknown): DroverError {
  try { fn(); } catch (e) { expect(e).toBeInstanceOf(DroverError); return e as DroverError; }
  throw new Error('expected a DroverError');
}
const bad = (x: unknown) => err(() => validate(x));
const base = () => ({ name: 'p', stages: [{ name: 'build', jobs: [{ name: 'compile', commands: ['make'] }] }] });

const YAML_SPEC = `
name: train-sweep
workspace: ./ws
env: { OMP_NUM_THREADS: "4", N: 2 }
secrets: [HF_TOKEN]
params: { lr: 0.01, epochs: 3 }
matrix: { lr: [0.1, 0.01], seed: [1, 2] }
retries: { max: 1, backoff: 10s }
timeout: 1h
retention: { keep_last: 50, max_age: 30d }
schedule: { cron: "0 3 * * *", catch_up: last }
on: { topic: new-data, max_concurrent: 2 }
webhook: { secret: HOOK_KEY }
stages:
  - name: build
    jobs:
      - name: compile
        commands:
          - make
          - { run: make lint, allow_failure: true }
  - name: train
    needs: [build]
    jobs:
      - name: fit
        executor: slurm
        timeout: 2h
        retries: { max: 3 }
        resources: { cpus: 4, mem: 8G, gpus: 1, time: 2h, partition: gpu }
        commands:
          - python train.py --lr \${{ params.lr }} --rev \${{ needs.build.outputs.rev }}
`;

describe('parse + validate', () => {
  test('YAML spec with defaults', () => {
    const s = validate(parseSpecText(YAML_SPEC));
    expect(s.name).toBe('train-sweep');
    expect(s.workspace).toEqual({ path: './ws', create: false });
    expect(s.env).toEqual({ OMP_NUM_THREADS: '4', N: '2' });
    expect(s.secrets).toEqual(['HF_TOKEN']);
    expect(s.priority).toBe(0);
    expect(s.retries).toEqual({ max: 1, backoff_ms: 10_000, max_backoff_ms: 300_000, lost: 2 });
    expect(s.timeout_ms).toBe(3_600_000);
    expect(s.retention).toEqual({ keep_last: 50, max_age_ms: 30 * 86_400_000 });
    expect(s.schedule).toEqual({ cron: '0 3 * * *', timezone: 'UTC', overlap: 'skip', catch_up: 'last' });
    expect(s.on).toEqual({ topic: 'new-data', max_concurrent: 2 });
    expect(s.webhook).toEqual({ secret: 'HOOK_KEY' });
    const [build, train] = s.stages;
    expect(build).toEqual({
      name: 'build', needs: [], merge: 'fail',
      jobs: [{
        name: 'compile', executor: 'local', resources: { fallback: 'cpu' }, env: {}, timeout_ms: 3_600_000,
        retries: { max: 1, backoff_ms: 10_000, max_backoff_ms: 300_000, lost: 2 },
        commands: [{ run: 'make', allow_failure: false }, { run: 'make lint', allow_failure: true }],
      }],
    });
    const fit = train!.jobs[0]!;
    expect(train!.needs).toEqual(['build']);
    expect(fit.executor).toBe('slurm');
    expect(fit.timeout_ms).toBe(7_200_000);
    expect(fit.retries).toEqual({ max: 3, backoff_ms: 10_000, max_backoff_ms: 300_000, lost: 2 });
    expect(fit.resources).toEqual({ cpus: 4, mem_mb: 8192, gpus: 1, time_ms: 7_200_000, partition: 'gpu', fallback: 'cpu' });
  });

  test('JSON spec gives the same object as YAML', () => {
    const json = JSON.stringify({ name: 'j', workspace: { path: 'w', create: true }, stages: [{ name: 's', jobs: [{ name: 'a', commands: ['true'] }] }] });
    const fromJson = validate(parseSpecText(`  ${json}`));
    const fromYaml = validate(parseSpecText('name: j\nworkspace: {path: w, create: true}\nstages:\n  - name: s\n    jobs: [{name: a, commands: ["true"]}]\n'));
    expect(fromJson).toEqual(fromYaml);
    expect(fromJson.workspace).toEqual({ path: 'w', create: true });
    expect(fromJson.retries).toEqual({ max: 0, backoff_ms: 5000, max_backoff_ms: 300_000, lost: 2 });
  });

  test('stage-level commands make one job named after the stage', () => {
    const s = validate({ name: 'p', stages: [{ name: 'only', executor: 'gpu', commands: ['nvidia-smi'] }] });
    expect(s.stages[0]!.jobs).toHaveLength(1);
    expect(s.stages[0]!.jobs[0]!.name).toBe('only');
    expect(s.stages[0]!.jobs[0]!.executor).toBe('gpu');
  });

  test('syntax errors', () => {
    const j = err(() => parseSpecText('{"name": "x",\n "stages": }'));
    expect(j.code).toBe('invalid_json');
    expect(j.message).toContain('line 2');
    const y = err(() => parseSpecText('name: x\nstages: [a, b\nfoo: 1\n'));
    expect(y.code).toBe('invalid_spec');
    expect(y.message).toMatch(/line \d/);
  });
});

describe('validation errors', () => {
  test('unknown key at top level', () => {
    const e = bad({ ...base(), bogus: 1 });
    expect(e.code).toBe('invalid_spec');
    expect(e.details.path).toBe('bogus');
    expect(e.message).toContain("unknown key 'bogus'");
  });
  test('unknown key nested in a job', () => {
    const s = base();
    (s.stages[0]!.jobs[0] as Record<string, unknown>).bogus_key = true;
    const e = bad(s);
    expect(e.details.path).toBe('stages[0].jobs[0].bogus_key');
    expect(e.message).toBe("stages[0].jobs[0]: unknown key 'bogus_key'");
  });
  test('unknown key in a command object', () => {
    const s = base();
    s.stages[0]!.jobs[0]!.commands = [{ run: 'x', nope: 1 }] as never;
    expect(bad(s).details.path).toBe('stages[0].jobs[0].commands[0].nope');
  });
  test('unknown needs', () => {
    const e = bad({ name: 'p', stages: [{ name: 'a', commands: ['x'] }, { name: 'b', needs: ['x'], commands: ['x'] }] });
    expect(e.code).toBe('invalid_spec');
    expect(e.message).toContain("unknown stage 'x' in stages[1].needs");
  });
  test('3-stage cycle', () => {
    const e = bad({ name: 'p', stages: [
      { name: 'a', needs: ['c'], commands: ['x'] }, { name: 'b', needs: ['a'], commands: ['x'] }, { name: 'c', needs: ['b'], commands: ['x'] },
    ] });
    expect(e.code).toBe('invalid_spec');
    expect(e.message).toContain('a -> b -> c -> a');
  });
  test('self need', () => {
    const e = bad({ name: 'p', stages: [{ name: 'a', needs: ['a'], commands: ['x'] }] });
    expect(e.message).toContain("stage 'a' cannot need itself");
    expect(e.details.path).toBe('stages[0].needs[0]');
  });
  test('bad duration', () => {
    const e = bad({ ...base(), timeout: '5 minutes' });
    expect(e.details.path).toBe('timeout');
    expect(e.message).toContain('timeout: invalid duration');
    expect(bad({ ...base(), retries: { backoff: 'soon' } }).details.path).toBe('retries.backoff');
  });
  test('bad size', () => {
    const s = base();
    (s.stages[0]!.jobs[0] as Record<string, unknown>).resources = { mem: '8X' };
    const e = bad(s);
    expect(e.details.path).toBe('stages[0].jobs[0].resources.mem');
    expect(e.message).toContain("invalid size '8X'");
  });
  test('unknown executor', () => {
    const s = base();
    (s.stages[0]!.jobs[0] as Record<string, unknown>).executor = 'foo';
    const e = bad(s);
    expect(e.code).toBe('unknown_executor');
    expect(e.message).toBe("stages[0].jobs[0].executor: unknown executor 'foo' (known: local, gpu, slurm)");
  });
  test('empty commands', () => {
    const s = base();
    s.stages[0]!.jobs[0]!.commands = [];
    expect(bad(s).details.path).toBe('stages[0].jobs[0].commands');
    s.stages[0]!.jobs[0]!.commands = ['make', '  '];
    const e = bad(s);
    expect(e.details.path).toBe('stages[0].jobs[0].commands[1]');
    expect(e.message).toContain('must not be empty');
  });
  test('bad names, duplicates, missing name', () => {
    expect(bad({ ...base(), name: 'Bad Name' }).details.path).toBe('name');
    const { name: _n, ...noName } = base();
    expect(bad(noName).message).toContain("missing required key 'name'");
    const dup = { name: 'p', stages: [{ name: 'a', commands: ['x'] }, { name: 'a', commands: ['y'] }] };
    expect(bad(dup).details.path).toBe('stages[1].name');
    expect(bad({ name: 'p', stages: [] }).details.path).toBe('stages');
  });
  test('needs reference outside direct needs, unsupported expression', () => {
    const s = { name: 'p', stages: [{ name: 'a', commands: ['echo ${{ needs.b.outputs.x }}'] }, { name: 'b', commands: ['x'] }] };
    expect(bad(s).details.path).toBe('stages[0].jobs[0].commands[0]');
    expect(bad({ name: 'p', stages: [{ name: 'a', commands: ['echo ${{ env.HOME }}'] }] }).code).toBe('invalid_spec');
  });
});

describe('units', () => {
  test('durations and sizes', () => {
    expect([parseDuration('500ms'), parseDuration('30s'), parseDuration('5m'), parseDuration('2h'), parseDuration('7d'), parseDuration(3)])
      .toEqual([500, 30_000, 300_000, 7_200_000, 604_800_000, 3000]);
    expect([parseSize('512M'), parseSize('8G'), parseSize('1T'), parseSize('100K'), parseSize(64)]).toEqual([512, 8192, 1_048_576, 1, 64]);
    expect(() => parseDuration('5 minutes')).toThrow(/invalid duration/);
    expect(() => parseSize('8X')).toThrow(/invalid size/);
  });
});

describe('matrix', () => {
  test('expansion count and order', () => {
    const m = { lr: [0.1, 0.01], seed: [1, 2, 3] };
    expect(countMatrix(m)).toBe(6);
    const combos = expandMatrix(m);
    expect(combos).toHaveLength(6);
    expect(combos.slice(0, 4)).toEqual([{ lr: 0.1, seed: 1 }, { lr: 0.1, seed: 2 }, { lr: 0.1, seed: 3 }, { lr: 0.01, seed: 1 }]);
    expect(countMatrix({})).toBe(1);
    expect(expandMatrix({})).toEqual([{}]);
  });
});

describe('interpolation', () => {
  const nasty = ['two words', "it's", '$HOME', '`id`', 'a\nb\n', "'';$(rm -rf x)", '#SBATCH --mem=1', '', '\\ "dq" \t', 'ünïcödé'];
  test.each(nasty)('value %j survives bash as one word', (value) => {
    const cmd = renderCommand('printf %s ${{params.v}}', { params: { v: value }, needs: {} });
    const r = Bun.spawnSync(['bash', '-c', cmd]);
    expect(r.exitCode).toBe(0);
    expect(Buffer.from(r.stdout).equals(Buffer.from(value))).toBe(true);
    const words = Bun.spawnSync(['bash', '-c', renderCommand('set -- ${{ params.v }}; printf %s $#', { params: { v: value }, needs: {} })]);
    expect(words.stdout.toString()).toBe('1');
  });
  test('needs outputs, non-strings, errors', () => {
    const ctx = { params: { lr: 0.1, tags: ['a', 'b'] }, needs: { build: { rev: 'abc 1' } } };
    expect(renderCommand('x ${{ params.lr }} ${{needs.build.outputs.rev}} ${{ params.tags }}', ctx)).toBe(`x '0.1' 'abc 1' '["a","b"]'`);
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
    expect(err(() => renderCommand('${{ params.nope }}', ctx, 'stages[0].jobs[0].commands[0]')).message)
      .toBe("stages[0].jobs[0].commands[0]: unknown param 'nope'");
    expect(err(() => renderCommand('${{ needs.x.outputs.k }}', ctx)).code).toBe('invalid_spec');
    expect(err(() => renderCommand('${{ needs.build.outputs.k }}', ctx)).code).toBe('invalid_spec');
    expect(err(() => renderCommand('${{ 1 + 1 }}', ctx)).code).toBe('invalid_spec');
    expect(referencedParams('${{ params.a }} ${{params.b}} ${{ params.a }}')).toEqual(['a', 'b']);
  });
  test('checkReferences at submit', () => {
    const s = validate(parseSpecText(YAML_SPEC));
    expect(() => checkReferences(s, { lr: 1 })).not.toThrow();
    const e = err(() => checkReferences(s, {}));
    expect(e.details.path).toBe('stages[1].jobs[0].commands[0]');
    expect(e.message).toContain("unknown param 'lr'");
  });
});

describe('validator', () => {
  const withCmd = (run: string): PipelineSpec => validate({ name: 'p', stages: [{ name: 's', commands: ['true', run] }] });
  test.each(['rm -rf /', 'rm -rf /*', 'rm -fr /', 'rm -rf --no-preserve-root /', 'cd x && sudo rm -rf / ', ':(){ :|:& };:', 'mkfs.ext4 /dev/sda1', 'dd if=/dev/zero of=/dev/sda bs=1M'])(
    'flags %j', (run) => {
      const e = err(() => rejectDangerous(withCmd(run)));
      expect(e.code).toBe('rejected_by_validator');
      expect(e.details.path).toBe('stages[0].jobs[0].commands[1]');
    });
  test.each(['rm -rf /tmp/x', 'rm -rf ./build', 'rm -rf build; cd /', 'dd if=/dev/zero of=./img bs=1M', 'echo / '])('allows %j', (run) => {
    expect(() => rejectDangerous(withCmd(run))).not.toThrow();
  });
});
