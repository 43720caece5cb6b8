// Job-level matrix (fan-out inside one run): a job with `matrix: {axis: [values]}` becomes one job per
// combination, named `fit[lr=0.1,seed=1]`, each carrying its point as `matrix`. Expanded when the spec is
// normalised, so the scheduler, the store and every view see ordinary jobs.
// Not here: the pipeline-level matrix (a group of runs) is planned in core/submit.ts.
import { DroverError } from '../errors.ts';
import { countMatrix, expandMatrix } from './matrix.ts';
import { scanRefs } from './interpolate.ts';
import type { JobSpec } from './types.ts';

/** Default bound on one job's points before anything is expanded (memory); --max-sweep bounds a submission. */
export const MAX_JOB_POINTS = 1_000_000;

/** How a matrix value reads in a job name: numbers and strings as written, null as `null`. */
export const pointValue = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));

export const pointName = (name: string, point: Record<string, unknown>): string =>
  `${name}[${Object.entries(point).map(([k, v]) => `${k}=${pointValue(v)}`).join(',')}]`;

/** Every `${{ matrix.X }}` of a job must name one of its axes (checked once, at the job's own path). */
function checkMatrixRefs(job: JobSpec, axes: string[] | null, path: string): void {
  job.commands.forEach((c, k) => {
    for (const r of scanRefs(c.run, `${path}.commands[${k}]`)) {
      if (r.kind !== 'matrix' || axes?.includes(r.name)) continue;
      const has = axes ? `this job's matrix has: ${axes.join(', ')}` : 'this job has no matrix';
      throw new DroverError('invalid_spec', `${path}.commands[${k}]: ${r.text} names no matrix axis '${r.name}' (${has})`, { path: `${path}.commands[${k}]`, axis: r.name });
    }
  });
}

/** The job itself (no matrix), or one job per combination of its matrix, in matrix order (first axis slowest). */
export function expandJob(job: JobSpec, matrix: Record<string, unknown[]> | undefined, path: string, max = MAX_JOB_POINTS): JobSpec[] {
  checkMatrixRefs(job, matrix ? Object.keys(matrix) : null, path);
  if (!matrix) return [job];
  const n = countMatrix(matrix);
  if (n > max) {
    throw new DroverError('too_many_runs', `${path}.matrix makes ${n} jobs, more than the limit of ${max} (--max-sweep)`, { path: `${path}.matrix`, jobs: n, max });
  }
  const seen = new Set<string>();
  return expandMatrix(matrix).map((point) => {
    const name = pointName(job.name, point);
    if (seen.has(name)) {
      throw new DroverError('invalid_spec', `${path}.matrix: two values of one axis give the same job name '${name}' (values must differ as text)`, { path: `${path}.matrix` });
    }
    seen.add(name);
    return { ...job, name, matrix: point };
  });
}

