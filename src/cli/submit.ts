// `drover submit FILE`: reads a YAML/JSON spec (no validation: the server does it), makes a
// relative workspace absolute against the spec's folder, POSTs /runs, and optionally waits
// or follows. Exit 1 when a waited-for run/group did not succeed.
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { CliError, intFlag, parseParams, parseValue } from './args.ts';
import { HttpError, type Client } from './client.ts';
import { parseYaml, lineOfPath } from '../core/spec/parse.ts';
import { didYouMean } from '../core/spec/suggest.ts';
import { defineCommand, sleep, type Context } from './command.ts';
import { followRuns } from './follow.ts';
import { isTerminal, type Group, type Preview, type Run, type SubmitResult } from './types.ts';

const FOLLOW_MAX_RUNS = 16; // beyond this a sweep is waited for without streaming logs

export function readSpec(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new CliError(`drover: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let spec: unknown;
  try {
    spec = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    const d = (e as { details?: { line?: number; column?: number } }).details ?? {};
    throw new CliError(`drover: cannot parse ${file}: ${(e as Error).message}`, 2, { code: 'invalid_spec', details: { file, ...d } });
  }
  if (!spec || typeof spec !== 'object' || Array.isArray(spec)) throw new CliError(`drover: ${file} does not hold a pipeline spec (an object)`);
  SPECS.set(file, spec);
  return resolveWorkspace(spec as Record<string, unknown>, dirname(resolve(file)));
}

/** `workspace: ./ws` or `{path: ./ws}` → absolute, relative to the spec file's folder. */
export function resolveWorkspace(spec: Record<string, unknown>, specDir: string): Record<string, unknown> {
  const ws = spec.workspace;
  if (typeof ws === 'string' && !isAbsolute(ws)) return { ...spec, workspace: resolve(specDir, ws) };
  if (ws && typeof ws === 'object' && !Array.isArray(ws)) {
    const p = (ws as { path?: unknown }).path;
    if (typeof p === 'string' && !isAbsolute(p)) return { ...spec, workspace: { ...ws, path: resolve(specDir, p) } };
  }
  return spec;
}

/** --matrix k=v1,v2: replaces axis k (or makes param k an axis); any other name is refused. */
function withMatrix(spec: Record<string, unknown>, pairs: readonly string[]): Record<string, unknown> {
  if (!pairs.length) return spec;
  const matrix = { ...((spec.matrix ?? {}) as Record<string, unknown[]>) };
  const params = (spec.params ?? {}) as Record<string, unknown>;
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new CliError(`drover: --matrix expects key=v1,v2, got '${pair}'`);
    const key = pair.slice(0, eq);
    if (!Object.hasOwn(matrix, key) && !Object.hasOwn(params, key)) {
      const names = [...Object.keys(matrix), ...Object.keys(params)];
      throw new CliError(`drover: --matrix ${key}: the spec has no matrix axis or param '${key}'${didYouMean(key, names)}`, 2, { code: 'invalid_request', details: { param: key } });
    }
    matrix[key] = pair.slice(eq + 1).split(',').map(parseValue);
  }
  return Object.assign(Object.create(Object.getPrototypeOf(spec)), spec, { matrix });
}

/** A refusal naming a spec path (stages[0].jobs[1]) also names its line in FILE. */
function atLine(e: unknown, file: string): unknown {
  if (!(e instanceof HttpError)) return e;
  const path = e.details.path;
  const line = typeof path === 'string' && !e.details.line ? lineOfPath(SPECS.get(file), path) : undefined;
  if (!line) return e;
  return new HttpError(`${e.message} (${file} line ${line})`, e.status, e.code, { ...e.details, line, file }, `${e.plain} (${file} line ${line})`);
}

const SPECS = new Map<string, unknown>();

async function waitFor(client: Client, kind: 'runs' | 'groups', id: string): Promise<Run | Group> {
  for (;;) {
    const t = await client.get<Run | Group>(`/${kind}/${id}`);
    if (isTerminal(t.status)) return t;
    await sleep(300);
  }
}

async function track(res: SubmitResult, ctx: Context, follow: boolean): Promise<number> {
  const client = ctx.client();
  let final: Run | Group;
  if ('run' in res) {
    final = follow ? (await followRuns(client, [res.run.id]))[0]! : await waitFor(client, 'runs', res.run.id);
  } else {
    if (follow && res.runs.length <= FOLLOW_MAX_RUNS) await followRuns(client, res.runs.map((r) => r.id));
    else if (follow) process.stderr.write(`drover: ${res.runs.length} runs: waiting without streaming logs (see 'drover ls runs --group ${res.group.id}')\n`);
    final = await waitFor(client, 'groups', res.group.id);
  }
  ctx.out.finished(final);
  return final.status === 'succeeded' ? 0 : 1;
}

export const submitCommand = defineCommand({
  name: 'submit',
  usage: 'submit FILE [--param k=v]... [--matrix k=v1,v2]... [--priority N] [--wait] [--follow] [--dry-run] [--json]',
  summary: 'Submit a pipeline spec (YAML or JSON): one run, or a group of runs for a matrix.',
  args: [1, 1],
  flags: {
    param: { type: 'list', value: 'k=v', help: 'override a param (numbers/booleans are parsed); it must be a param of the spec' },
    matrix: { type: 'list', value: 'k=v1,v2', help: 'replace the values of matrix axis k (or sweep param k over them)' },
    priority: { type: 'string', value: 'N', help: 'priority (higher first)' },
    wait: { type: 'boolean', help: 'wait until it ends; exit 1 unless it succeeded' },
    follow: { type: 'boolean', help: 'like --wait, and stream the job logs' },
    'dry-run': { type: 'boolean', help: 'show what would run (runs, matrix, executors, CPU/GPU-hours)' },
  },
  async run({ flags, positionals }, ctx) {
    const file = positionals[0]!;
    const spec = withMatrix(readSpec(file), flags.matrix);
    const body = { spec, params: parseParams(flags.param), priority: intFlag('priority', flags.priority) };
    const post = <T>(query?: Record<string, unknown>) => ctx.client().post<T>('/runs', body, query as never).catch((e) => { throw atLine(e, file); });
    if (flags['dry-run']) {
      if (flags.wait || flags.follow) throw new CliError('drover: --dry-run cannot be combined with --wait or --follow');
      ctx.out.preview(await post<Preview>({ dry_run: true }));
      return 0;
    }
    const res = await post<SubmitResult>();
    if (!res || (!('run' in res) && !('group' in res))) throw new CliError('drover: bad_response: the server did not return a run or group');
    if (!(flags.wait || flags.follow) || !ctx.json) ctx.out.submitted(res);
    if (!flags.wait && !flags.follow) return 0;
    return track(res, ctx, flags.follow);
  },
});
