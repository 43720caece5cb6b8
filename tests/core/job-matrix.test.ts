// Job-level matrix at spec normalisation: one job per point, named and carrying its point; where it may
// be written; names that would collide; the size bound checked before anything is expanded; rendering.
import { describe, expect, test } from 'bun:test';
import { DroverError } from '../../src/core/errors.ts';
import { renderCommand, shellQuote, validateSpec } from '../../src/core/spec/index.ts';
import { compareValues, resultsCsv, sortRows, type ResultRow } from '../../src/core/results.ts';

const validate = (x: unknown, maxJobPoints?: number) => validateSpec(x, { executors: ['local'], maxJobPoints });
function err(fn: () => unknown): DroverError {
  try { fn(); } catch (e) { expect(e).toBeInstanceOf(DroverError); return e as DroverError; }
  throw new Error('expected a DroverError');
}
const spec = (job: object, stage: object = {}) => ({ name: 'p', stages: [{ name: 's', jobs: [{ name: 'fit', commands: ['echo ${{ matrix.lr }}'], ...job }], ...stage }] });

describe('job matrix', () => {
  test('expands into one job per combination, first axis slowest, each with its point', () => {
    const s = validate(spec({ matrix: { lr: [0.1, 'a b'], seed: [1, 2], flag: [true, null] } }));
    const jobs = s.stages[0]!.jobs;
    expect(jobs).toHaveLength(8);
    expect(jobs[0]).toMatchObject({ name: 'fit[lr=0.1,seed=1,flag=true]', matrix: { lr: 0.1, seed: 1, flag: true } });
    expect(jobs[7]).toMatchObject({ name: 'fit[lr=a b,seed=2,flag=null]', matrix: { lr: 'a b', seed: 2, flag: null } });
  });

  test('the single-job stage form takes a matrix too; a stage with jobs may not', () => {
    const s = validate({ name: 'p', stages: [{ name: 'train', matrix: { k: [1, 2] }, commands: ['echo ${{ matrix.k }}'] }] });
    expect(s.stages[0]!.jobs.map((j) => j.name)).toEqual(['train[k=1]', 'train[k=2]']);
    const e = err(() => validate(spec({}, { matrix: { k: [1] } })));
    expect(e.message).toContain("'matrix' belongs on a job");
  });

  test('values that read the same as text are refused (their names would collide)', () => {
    const e = err(() => validate(spec({ matrix: { lr: [1, '1'] } })));
    expect(e.message).toContain("give the same job name 'fit[lr=1]'");
  });

  test('the size bound is checked before expanding: a 10^12-point matrix is refused at once', () => {
    const big = Array.from({ length: 1000 }, (_, i) => i);
    const e = err(() => validate(spec({ matrix: { lr: big, b: big, c: big, d: big } }), 10_000));
    expect(e.code).toBe('too_many_runs');
    expect(e.message).toContain('makes 1000000000000 jobs, more than the limit of 10000');
  });

  test('an empty axis and a bad axis name are spec errors', () => {
    expect(err(() => validate(spec({ matrix: { lr: [] } }))).message).toContain('non-empty list');
    expect(err(() => validate(spec({ matrix: { 'bad-axis': [1] } }))).message).toContain('matrix axis');
  });

  test('renderCommand inserts the point; an axis the job lacks is an error', () => {
    expect(renderCommand('run --lr ${{ matrix.lr }}', { params: {}, needs: {}, matrix: { lr: 0.5 } })).toBe(`run --lr ${shellQuote(0.5)}`);
    expect(err(() => renderCommand('${{ matrix.x }}', { params: {}, needs: {} })).message).toContain('names no matrix axis');
  });
});

describe('results', () => {
  const row = (run_id: string, lr: unknown, loss?: string): ResultRow => ({ run_id, status: 'succeeded', params: { lr }, outputs: loss === undefined ? {} : { loss }, exit_code: 0, started_at: null, ended_at: null, took_s: null });
  test('numbers sort as numbers, numeric text too; missing values last', () => {
    const rows = [row('a', 10, '10'), row('b', 2, '9.5'), row('c', 0.5), row('d', 'x', '-1')];
    expect(sortRows(rows, 'lr').map((r) => r.run_id)).toEqual(['c', 'b', 'a', 'd']);
    expect(sortRows(rows, 'loss').map((r) => r.run_id)).toEqual(['d', 'b', 'a', 'c']);
    expect(compareValues('10', '9')).toBeGreaterThan(0);
  });
  test('CSV quotes commas, quotes and newlines; an output named like a param gets its own column', () => {
    const csv = resultsCsv([{ ...row('a', 1, 'x'), outputs: { lr: 'o', note: 'a,"b"\nc' } }]);
    const [head, line] = csv.split('\r\n');
    expect(head).toBe('run_id,status,lr,output.lr,note,exit_code,started_at,ended_at,took_s');
    expect(line).toBe('a,succeeded,1,o,"a,""b""\nc",0,,,');
  });
});
