// validateSpec: raw spec (parsed YAML/JSON) -> normalised PipelineSpec, or DroverError naming the field path.
// Shape checks come from schema.ts; here: defaults, executors, unique names, needs/DAG, ${{ }} references.
import * as v from 'valibot';
import { DroverError } from '../errors.ts';
import { PipelineSchema, type RawJob, type RawPipeline, type RawStage } from './schema.ts';
import { checkRefs } from './interpolate.ts';
import { lineOfPath } from './parse.ts';
import { didYouMean } from './suggest.ts';
import { expandJob } from './job-matrix.ts';
import type { JobSpec, PipelineSpec, Resources, RetryPolicy, StageSpec } from './types.ts';

export interface ValidateOptions {
  executors: readonly string[];
  /** an executor's own check of a job's resources at submit (Slurm: the sbatch allow-list); null = fine */
  checkResources?(executor: string, resources: Resources): string | null;
  /** most points one job's matrix may make (default MAX_JOB_POINTS; a submit also counts them against --max-sweep) */
  maxJobPoints?: number;
}

type Issue = v.BaseIssue<unknown>;
type PathItem = NonNullable<Issue['path']>[number];

function pathOf(items: readonly PathItem[]): string {
  let s = '';
  for (const p of items) s += typeof p.key === 'number' ? `[${p.key}]` : (s ? '.' : '') + String(p.key);
  return s;
}

type AnySchema = { type?: string; entries?: Record<string, AnySchema>; item?: AnySchema; options?: AnySchema[]; wrapped?: AnySchema; pipe?: AnySchema[] };

/** The keys the schema knows for the object at `keys` (to suggest one for an unknown key). */
function knownKeys(schema: AnySchema | undefined, keys: readonly unknown[]): string[] {
  if (!schema) return [];
  if (schema.wrapped) return knownKeys(schema.wrapped, keys);
  if (schema.pipe && schema.pipe[0] !== schema) return knownKeys(schema.pipe[0], keys);
  if (schema.options) return [...new Set(schema.options.flatMap((o) => knownKeys(o, keys)))];
  if (!keys.length) return schema.entries ? Object.keys(schema.entries) : [];
  const [k, ...rest] = keys;
  if (schema.entries) return knownKeys(schema.entries[String(k)], rest);
  if (schema.item && typeof k === 'number') return knownKeys(schema.item, rest);
  return [];
}

/** A YAML command that YAML read as a mapping (`- echo "a: b"`): say how to quote it. */
function mappingCommand(issue: Issue, items: readonly PathItem[]): string | null {
  const input = issue.input as Record<string, unknown> | null;
  const inCommands = items.some((p) => p.key === 'commands');
  if (!inCommands || !input || typeof input !== 'object' || Array.isArray(input) || 'run' in input) return null;
  const [k, val] = Object.entries(input)[0] ?? [];
  if (k === undefined) return null;
  const text = `${k}: ${typeof val === 'string' ? val : JSON.stringify(val)}`;
  return `YAML read this command as a mapping ({${JSON.stringify(k)}: ${JSON.stringify(val)}}) because of the ': ' in it; quote the whole command: - '${text.replace(/'/g, "''")}'`;
}

/** One valibot issue -> {path, message}; unions report their most specific branch. */
function describe(issue: Issue, prefix: readonly PathItem[] = []): { path: string; message: string } {
  const items = [...prefix, ...(issue.path ?? [])];
  if (issue.type === 'union' && issue.issues?.length) {
    const asMapping = mappingCommand(issue, items);
    if (asMapping) return { path: pathOf(items), message: `${pathOf(items)}: ${asMapping}` };
    const sub = issue.issues.find((i) => i.path?.length) ?? issue.issues.find((i) => i.kind !== 'schema');
    if (sub) return describe(sub, items);
  }
  const path = pathOf(items);
  const parent = pathOf(items.slice(0, -1)) || 'spec';
  const key = items.at(-1)?.key;
  if (issue.type === 'strict_object' || issue.type === 'object') {
    if (issue.expected === 'never') {
      const known = knownKeys(PipelineSchema as unknown as AnySchema, items.slice(0, -1).map((p) => p.key));
      return { path, message: `${parent}: unknown key '${String(key)}'${didYouMean(String(key), known)}` };
    }
    if (issue.received === 'undefined' && issue.expected?.startsWith('"')) {
      return { path, message: `${parent}: missing required key '${String(key)}'` };
    }
  }
  let msg = issue.message;
  if (issue.kind === 'schema') {
    const expected = issue.expected === 'Object' ? 'an object' : issue.expected === 'Array' ? 'a list' : issue.expected;
    msg = msg.startsWith('Invalid type:') ? `expected ${expected}, got ${issue.received}` : `${msg}, got ${issue.received}`;
  }
  return { path, message: `${path || 'spec'}: ${msg}` };
}

const fail = (path: string, message: string): never => {
  throw new DroverError('invalid_spec', message, { path });
};

function compact<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, x]) => x !== undefined)) as T;
}

type JobKeys = Omit<RawJob, 'name'>;
const JOB_ONLY = ['executor', 'pool', 'resources', 'env', 'timeout', 'retries', 'matrix', 'allow_failure'] as const;

function normJob(name: string, j: JobKeys, path: string, top: PipelineSpec, opts: ValidateOptions): JobSpec {
  const executor = j.executor ?? 'local';
  if (!opts.executors.includes(executor)) {
    throw new DroverError('unknown_executor',
      `${path}.executor: unknown executor '${executor}' (known: ${opts.executors.join(', ')})`, { path: `${path}.executor` });
  }
  const r = j.resources ?? {};
  const resources: Resources = compact({
    cpus: r.cpus, mem_mb: r.mem, gpus: r.gpus, time_ms: r.time, partition: r.partition, account: r.account, qos: r.qos,
    fallback: r.fallback ?? 'cpu', sbatch: r.sbatch,
  });
  const refused = opts.checkResources?.(executor, resources);
  if (refused) fail(`${path}.resources`, `${path}.${refused}`);
  const retries: RetryPolicy = { ...top.retries };
  if (j.retries) {
    const jr = j.retries;
    Object.assign(retries, compact({ max: jr.max, backoff_ms: jr.backoff, max_backoff_ms: jr.max_backoff, lost: jr.lost }));
  }
  return compact({
    name, executor, pool: j.pool, allow_failure: j.allow_failure || undefined,
    commands: j.commands.map((c) => (typeof c === 'string' ? { run: c, allow_failure: false } : { run: c.run, allow_failure: c.allow_failure ?? false })),
    resources, env: j.env ?? {}, timeout_ms: j.timeout ?? top.timeout_ms, retries,
  });
}

function normStage(s: RawStage, i: number, top: PipelineSpec, opts: ValidateOptions): StageSpec {
  const path = `stages[${i}]`;
  let jobs: JobSpec[];
  if (s.jobs && s.commands) fail(`${path}.commands`, `${path}: use either 'jobs' or 'commands', not both`);
  if (s.jobs) {
    for (const k of JOB_ONLY) {
      if (s[k] !== undefined) fail(`${path}.${k}`, `${path}: '${k}' belongs on a job (or give the stage 'commands' instead of 'jobs')`);
    }
    const seen = new Set<string>();
    s.jobs.forEach((j, jx) => {
      if (seen.has(j.name)) fail(`${path}.jobs[${jx}].name`, `${path}.jobs[${jx}].name: duplicate job name '${j.name}' in ${path}`);
      seen.add(j.name);
    });
    jobs = s.jobs.flatMap((j, jx) => expandJob(normJob(j.name, j, `${path}.jobs[${jx}]`, top, opts), j.matrix, `${path}.jobs[${jx}]`, opts.maxJobPoints));
  } else if (s.commands) {
    jobs = expandJob(normJob(s.name, { ...s, commands: s.commands }, path, top, opts), s.matrix, path, opts.maxJobPoints);
  } else {
    return fail(`${path}.jobs`, `${path}: missing required key 'jobs' (or 'commands')`);
  }
  const needs = s.needs === undefined ? [] : [...new Set(typeof s.needs === 'string' ? [s.needs] : s.needs)];
  return { name: s.name, needs, merge: s.merge ?? 'fail', jobs };
}

/** A cycle in the needs graph, in run order (a -> b: b needs a), or null. */
function findCycle(stages: StageSpec[]): string[] | null {
  const byName = new Map(stages.map((s) => [s.name, s]));
  const state = new Map<string, 1 | 2>();
  const stack: string[] = [];
  const visit = (n: string): string[] | null => {
    state.set(n, 1);
    stack.push(n);
    for (const d of byName.get(n)!.needs) {
      if (state.get(d) === 1) return [...stack.slice(stack.indexOf(d)), d].reverse();
      if (!state.has(d)) { const c = visit(d); if (c) return c; }
    }
    stack.pop();
    state.set(n, 2);
    return null;
  };
  for (const s of stages) {
    if (!state.has(s.name)) { const c = visit(s.name); if (c) return c; }
  }
  return null;
}

export function validateSpec(input: unknown, opts: ValidateOptions): PipelineSpec {
  const parsed = v.safeParse(PipelineSchema, input, { abortEarly: false });
  if (!parsed.success) {
    // a YAML spec names the line of each problem
    const issues = parsed.issues.map((i) => describe(i)).map((d): { path: string; message: string; line?: number } => {
      const line = lineOfPath(input, d.path);
      return line ? { ...d, line, message: `${d.message} (line ${line})` } : d;
    });
    // name every problem (up to a few), unknown keys first: they are the likeliest typo
    const ordered = [...issues].sort((a, b) => Number(/unknown key/.test(b.message)) - Number(/unknown key/.test(a.message)));
    const shown = ordered.slice(0, 3).map((i) => i.message).join('; ');
    const more = issues.length > 3 ? ` (and ${issues.length - 3} more problem${issues.length > 4 ? 's' : ''})` : '';
    throw new DroverError('invalid_spec', shown + more, { path: ordered[0]!.path, ...(ordered[0]!.line ? { line: ordered[0]!.line } : {}), issues });
  }
  const raw: RawPipeline = parsed.output;
  const rr = raw.retries ?? {};
  const ws = raw.workspace;
  const spec: PipelineSpec = compact({
    name: raw.name,
    description: raw.description,
    workspace: ws === undefined ? undefined : typeof ws === 'string' ? { path: ws, create: false } : { path: ws.path, create: ws.create ?? false },
    env: raw.env ?? {},
    secrets: raw.secrets ?? [],
    params: raw.params ?? {},
    matrix: raw.matrix,
    priority: raw.priority ?? 0,
    retries: compact({ max: rr.max ?? 0, backoff_ms: rr.backoff ?? 5_000, max_backoff_ms: rr.max_backoff ?? 300_000, lost: rr.lost ?? 2, budget: rr.budget }),
    timeout_ms: raw.timeout,
    retention: raw.retention && compact({ keep_last: raw.retention.keep_last, max_age_ms: raw.retention.max_age }),
    concurrency: raw.concurrency,
    schedule: raw.schedule && {
      cron: raw.schedule.cron.trim(), timezone: raw.schedule.timezone ?? 'UTC',
      overlap: raw.schedule.overlap ?? 'skip', catch_up: raw.schedule.catch_up ?? 'none',
    },
    on: raw.on && compact({ ...raw.on }),
    webhook: raw.webhook && { ...raw.webhook },
    validator: raw.validator && { allow: raw.validator.allow ?? [] },
    stages: [],
  });
  spec.stages = raw.stages.map((s, i) => normStage(s, i, spec, opts));

  const index = new Map<string, number>();
  spec.stages.forEach((s, i) => {
    if (index.has(s.name)) fail(`stages[${i}].name`, `stages[${i}].name: duplicate stage name '${s.name}' (also stages[${index.get(s.name)}])`);
    index.set(s.name, i);
  });
  spec.stages.forEach((s, i) => {
    s.needs.forEach((n, k) => {
      if (n === s.name) fail(`stages[${i}].needs[${k}]`, `stages[${i}].needs: stage '${n}' cannot need itself`);
      if (!index.has(n)) fail(`stages[${i}].needs[${k}]`, `unknown stage '${n}' in stages[${i}].needs${didYouMean(n, index.keys())}`);
    });
  });
  const cycle = findCycle(spec.stages);
  if (cycle) {
    const at = `stages[${index.get(cycle[0]!)}].needs`;
    throw new DroverError('invalid_spec', `${at}: cycle in needs: ${cycle.join(' -> ')}`, { path: at, cycle });
  }
  checkRefs(spec, null);
  return spec;
}
