// valibot schema for the raw pipeline spec (section 1 of API.md). Strict objects: unknown keys are errors.
// Durations and sizes are converted here (ms / MiB); validate.ts normalises the rest into PipelineSpec.
import * as v from 'valibot';
import { parseDuration, parseSize } from './units.ts';

export const PIPELINE_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;
export const ITEM_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
export const VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const TOPIC = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const SLURM_WORD = /^[A-Za-z0-9_.,:+@-]{1,128}$/;

const nonEmpty = (what = 'a string') =>
  v.pipe(v.string(`expected ${what}`), v.check((s) => s.trim() !== '', 'must not be empty'));
const named = (re: RegExp, what: string) =>
  v.pipe(v.string(`expected ${what}`), v.regex(re, `invalid ${what}: must match ${re.source}`));
const int = (min: number) =>
  v.pipe(v.number('expected an integer'), v.integer('expected an integer'), v.minValue(min, `must be >= ${min}`));
const pick = <const T extends readonly [string, ...string[]]>(opts: T) => v.picklist(opts, `expected one of: ${opts.join(', ')}`);

function converted(fn: (x: string | number) => number, what: string, positive = false) {
  return v.pipe(
    v.union([v.string(), v.number()], `expected a ${what}`),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      try {
        const n = fn(dataset.value);
        if (positive && n <= 0) { addIssue({ message: `${what} must be greater than 0` }); return NEVER; }
        return n;
      } catch (e) {
        addIssue({ message: (e as Error).message });
        return NEVER;
      }
    }),
  );
}
const duration = (positive = false) => converted(parseDuration, 'duration', positive);
const size = () => converted(parseSize, 'size', true);

const scalar = v.union([v.string(), v.number(), v.boolean(), v.null()], 'expected a string, number, boolean or null');
const envMap = v.record(
  named(VAR_NAME, 'environment variable name'),
  v.pipe(
    v.union([v.string(), v.number(), v.boolean()], 'expected a string, number or boolean'), v.transform(String),
    v.check((s) => !s.includes('\0'), 'must not contain NUL bytes (an environment variable cannot hold one)'),
  ),
);

export const CommandSchema = v.union(
  [nonEmpty('a command'), v.strictObject({ run: nonEmpty('a command'), allow_failure: v.optional(v.boolean('expected a boolean')) })],
  'expected a command string or {run, allow_failure}',
);

const RetriesSchema = v.strictObject({
  max: v.optional(int(0)),
  backoff: v.optional(duration()),
  max_backoff: v.optional(duration()),
  lost: v.optional(int(0)),
  budget: v.optional(int(0)),
});

export const ResourcesSchema = v.strictObject({
  cpus: v.optional(v.pipe(v.number('expected a number'), v.check((n) => n > 0, 'must be greater than 0'))),
  mem: v.optional(size()),
  gpus: v.optional(int(0)),
  time: v.optional(duration(true)),
  partition: v.optional(named(SLURM_WORD, 'partition')),
  account: v.optional(named(SLURM_WORD, 'account')),
  qos: v.optional(named(SLURM_WORD, 'qos')),
  fallback: v.optional(pick(['cpu', 'none'])),
  sbatch: v.optional(v.array(
    v.pipe(v.string('expected a string'), v.regex(/^-[^\x00-\x1f\x7f]*$/, 'must be one option starting with - and without control characters')),
    'expected a list of sbatch options',
  )),
});

/** A job's own matrix: axis -> values; the job becomes one job per combination (fan-out inside one run). */
export const JobMatrixSchema = v.record(
  named(VAR_NAME, 'matrix axis'),
  v.pipe(v.array(scalar, 'expected a non-empty list of values'), v.minLength(1, 'expected a non-empty list of values')),
);

/** Keys a job has; a stage may carry these too (the single-job convenience form). */
const jobEntries = {
  matrix: v.optional(JobMatrixSchema),
  allow_failure: v.optional(v.boolean('expected a boolean')),
  executor: v.optional(nonEmpty('an executor name')),
  pool: v.optional(named(ITEM_NAME, 'pool name')),
  commands: v.pipe(v.array(CommandSchema, 'expected a list of commands'), v.minLength(1, 'must have at least one command')),
  resources: v.optional(ResourcesSchema),
  env: v.optional(envMap),
  timeout: v.optional(duration(true)),
  retries: v.optional(RetriesSchema),
};

export const JobSchema = v.strictObject({ name: named(ITEM_NAME, 'job name'), ...jobEntries });

export const StageSchema = v.strictObject({
  name: named(ITEM_NAME, 'stage name'),
  needs: v.optional(v.union([v.string(), v.array(v.string('expected a stage name'))], 'expected a list of stage names')),
  merge: v.optional(pick(['fail', 'first', 'last', 'list'])),
  jobs: v.optional(v.pipe(v.array(JobSchema, 'expected a list of jobs'), v.minLength(1, 'must have at least one job'))),
  ...jobEntries,
  commands: v.optional(jobEntries.commands),
});

function validRegex(re: string): boolean {
  try { new RegExp(re); return true; } catch { return false; }
}

function validTimezone(tz: string): boolean {
  try { new Intl.DateTimeFormat('en-US', { timeZone: tz }); return true; } catch { return false; }
}

export const PipelineSchema = v.strictObject({
  name: named(PIPELINE_NAME, 'pipeline name'),
  description: v.optional(v.string('expected a string')),
  workspace: v.optional(v.union(
    [nonEmpty('a path'), v.strictObject({ path: nonEmpty('a path'), create: v.optional(v.boolean('expected a boolean')) })],
    'expected a path or {path, create}',
  )),
  env: v.optional(envMap),
  secrets: v.optional(v.array(named(VAR_NAME, 'secret name'), 'expected a list of secret names')),
  params: v.optional(v.record(
    named(VAR_NAME, 'param name'),
    v.union([scalar, v.array(scalar)], 'expected a scalar or a list of scalars'),
  )),
  matrix: v.optional(v.record(
    named(VAR_NAME, 'matrix key'),
    v.pipe(v.array(scalar, 'expected a non-empty list of values'), v.minLength(1, 'expected a non-empty list of values')),
  )),
  priority: v.optional(v.pipe(v.number('expected an integer'), v.integer('expected an integer'))),
  retries: v.optional(RetriesSchema),
  timeout: v.optional(duration(true)),
  retention: v.optional(v.strictObject({ keep_last: v.optional(int(0)), max_age: v.optional(duration(true)) })),
  concurrency: v.optional(int(1)),
  schedule: v.optional(v.strictObject({
    cron: v.pipe(v.string('expected a cron expression'),
      v.check((s) => [5, 6].includes(s.trim().split(/\s+/).length), 'cron expression must have 5 or 6 fields')),
    timezone: v.optional(v.pipe(v.string('expected a time zone'), v.check(validTimezone, 'unknown time zone'))),
    overlap: v.optional(pick(['skip', 'queue', 'allow'])),
    catch_up: v.optional(pick(['none', 'last', 'all'])),
  })),
  on: v.optional(v.strictObject({
    topic: named(TOPIC, 'topic'),
    max_concurrent: v.optional(int(1)),
    max_runs_per_hour: v.optional(int(1)),
  })),
  webhook: v.optional(v.strictObject({ secret: named(VAR_NAME, 'secret name') })),
  validator: v.optional(v.strictObject({
    allow: v.optional(v.array(v.pipe(v.string('expected a regular expression'), v.check(validRegex, 'invalid regular expression')), 'expected a list of regular expressions')),
  })),
  stages: v.pipe(v.array(StageSchema, 'expected a list of stages'), v.minLength(1, 'must have at least one stage')),
});

export type RawPipeline = v.InferOutput<typeof PipelineSchema>;
export type RawStage = v.InferOutput<typeof StageSchema>;
export type RawJob = v.InferOutput<typeof JobSchema>;
