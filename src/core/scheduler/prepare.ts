// Turns a queued job into a PreparedJob: checks the run folder and workspace still exist and stay
// under the root, renders commands (${{ }}), builds the env and the job script (synchronously, inside
// the scheduler's transaction); writeJobFiles() makes the job folder, job.sh and needs.json
// ($DROVER_NEEDS, written atomically). Without a workspace every job of a run starts in the run's
// shared work dir, runs/<run>/work ($DROVER_WORKDIR). (Measured: doing
// these few file operations synchronously beats the thread pool here, where file creation is slow.)
import { existsSync, mkdirSync, writeFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DroverError, type FailureReason } from '../errors.ts';
import { renderCommand, type PipelineSpec } from '../spec/index.ts';
import { renderScript } from '../../runner/script.ts';
import { isUnder, canonical, runWorkDir } from '../workspace.ts';
import { writeNeedsFile, type NeedsDoc } from './needs.ts';
import { commandRefusal } from '../spec/validator.ts';
import { shellQuote } from '../../runner/quote.ts';
import type { SecretsView } from '../secrets/types.ts';
import type { PreparedJob } from '../ports.ts';
import type { JobRow, RunRow, StageRow } from '../types.ts';

export class PrepareFailure extends Error {
  constructor(readonly reason: FailureReason, message: string) { super(message); }
}

export interface PrepareContext {
  workspaceRoot: string; extraEnv?: Record<string, string>; preamble?: string;
  /** for a remote agent: the script finds its folder in $DROVER_JOB_DIR and works there */
  portable?: boolean;
  /** where the values of the spec's `secrets:` come from (never written into job.sh) */
  secrets?: SecretsView;
  /** what $DROVER_NEEDS holds (needs.ts); absent: {} */
  needs?: NeedsDoc;
  /** the executor signals whole process groups: the runner may run the last command in its own shell */
  inlineLast?: boolean;
}

/** The secret values a prepared job gets, kept beside it (never on the PreparedJob an executor sees). */
const SECRETS = new WeakMap<PreparedJob, { values: Record<string, string>; portable: boolean }>();
export const jobSecrets = (job: PreparedJob): Record<string, string> | undefined => SECRETS.get(job)?.values;
/** The $DROVER_NEEDS document of a prepared job (a remote agent gets it in its claim). */
const NEEDS = new WeakMap<PreparedJob, NeedsDoc>();
export const jobNeeds = (job: PreparedJob): NeedsDoc => NEEDS.get(job) ?? {};

const UMASK = process.umask();
const envKey = (k: string) => k.toUpperCase().replace(/[^A-Z0-9_]/g, '_');

export function prepareJob(job: JobRow, run: RunRow, spec: PipelineSpec, stages: StageRow[], inputs: Record<string, unknown>, ctx: PrepareContext): PreparedJob {
  if (!existsSync(join(run.dir, 'run.json'))) {
    throw new PrepareFailure('missing_run_folder', `the run folder ${run.dir} (or its run.json) is gone; was it deleted?`);
  }
  const js = spec.stages[job.stage_idx]!.jobs[job.job_idx]!;
  let workdir: string;
  const dir = join(run.dir, 'jobs', job.id);
  if (run.workspace) {
    if (!existsSync(run.workspace)) {
      if (!spec.workspace?.create) throw new PrepareFailure('missing_workspace', `the workspace ${run.workspace} does not exist`);
      mkdirSync(run.workspace, { recursive: true });
    }
    if (!isUnder(ctx.workspaceRoot, run.workspace)) {
      throw new PrepareFailure('workspace_escape', `the workspace ${run.workspace} now resolves outside the workspace root ${ctx.workspaceRoot}`);
    }
    workdir = run.workspace;
  } else {
    workdir = runWorkDir(run.dir);
    if (!ctx.portable && !existsSync(workdir)) mkdirFresh(workdir); // (a stat: far cheaper than a mkdir that fails)
  }
  const params = JSON.parse(run.params) as Record<string, unknown>;
  const needs: Record<string, Record<string, unknown>> = {};
  const stageSpec = spec.stages[job.stage_idx]!;
  for (const s of stages) if (stageSpec.needs.includes(s.name)) needs[s.name] = s.outputs ? JSON.parse(s.outputs) : {};
  let commands;
  try {
    commands = js.commands.map((c, k) => ({ run: renderCommand(c.run, { params, needs, matrix: js.matrix }, `stages[${job.stage_idx}].jobs[${job.job_idx}].commands[${k}]`), allow_failure: c.allow_failure }));
  } catch (err) {
    throw new PrepareFailure('interpolation_failed', err instanceof DroverError ? err.message : String(err));
  }
  const secrets = secretsOf(spec, ctx);
  for (const [k, c] of commands.entries()) {
    const refused = commandRefusal(c.run, { workspaceRoot: ctx.workspaceRoot, workdir, allow: spec.validator?.allow });
    if (refused) throw new PrepareFailure('rejected_by_validator', `command ${k} as rendered is refused by the validator (${refused.rule}: ${refused.message})`);
  }
  const env: Record<string, string> = { ...spec.env, ...js.env };
  for (const [k, v] of Object.entries(params)) env[`DROVER_PARAM_${envKey(k)}`] = typeof v === 'string' ? v : JSON.stringify(v);
  for (const [k, v] of Object.entries(inputs)) env[`DROVER_INPUT_${envKey(k)}`] = typeof v === 'string' ? v : JSON.stringify(v);
  for (const [k, v] of Object.entries(js.matrix ?? {})) env[`DROVER_MATRIX_${envKey(k)}`] = typeof v === 'string' ? v : JSON.stringify(v);
  Object.assign(env, ctx.extraEnv ?? {}, { DROVER_RUN_ID: run.id, DROVER_JOB_ID: job.id, DROVER_ATTEMPT: String(job.attempt) });
  if (!ctx.portable) Object.assign(env, { DROVER_WORKDIR: workdir, DROVER_OUTPUT: join(dir, 'outputs.env'), DROVER_JOB_DIR: dir, DROVER_NEEDS: join(dir, 'needs.json') });
  const prepared: PreparedJob = {
    id: job.id, runId: run.id, attempt: job.attempt, name: job.name, dir, script: join(dir, 'job.sh'), workdir, commandCount: commands.length,
    resources: js.resources, env, timeoutMs: js.timeout_ms ?? spec.timeout_ms ?? null, groupId: job.group_id,
    scriptText: renderScript({ jobId: job.id, attempt: job.attempt, dir: ctx.portable ? null : dir, workdir: ctx.portable ? null : workdir, root: run.workspace ? canonical(ctx.workspaceRoot) : null, env, commands, umask: UMASK, preamble: ctx.preamble, secrets: !!secrets, inlineLast: !!ctx.inlineLast && !ctx.portable }),
  };
  if (secrets) { prepared.rawLogs = !ctx.portable; SECRETS.set(prepared, { values: secrets, portable: !!ctx.portable }); }
  NEEDS.set(prepared, ctx.needs ?? {});
  return prepared;
}

/** The values of the spec's secrets (null: it has none); a secret deleted since the submit fails the job. */
function secretsOf(spec: PipelineSpec, ctx: PrepareContext): Record<string, string> | null {
  if (!spec.secrets.length) return null;
  const missing = ctx.secrets ? ctx.secrets.missing(spec.secrets) : spec.secrets;
  if (missing.length) throw new PrepareFailure('missing_secret', `secret${missing.length > 1 ? 's' : ''} ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} not set (drover secret set NAME)`);
  return ctx.secrets!.values(spec.secrets);
}

/** The job folder (logs/, meta/) and job.sh; a retry first moves the previous attempt aside. */
export function writeJobFiles(job: PreparedJob): void {
  // (an agent's job has no job.out here, only the logs it uploaded: those move aside too)
  if (job.attempt > 1 && (existsSync(join(job.dir, 'job.out')) || existsSync(join(job.dir, 'logs')))) {
    const keep = join(job.dir, `attempt-${job.attempt - 1}`);
    mkdirSync(keep, { recursive: true });
    for (const f of ['job.out', 'logs', 'meta', 'outputs.env', 'job.sh', '.log-capped']) {
      if (existsSync(join(job.dir, f))) renameSync(join(job.dir, f), join(keep, f));
    }
  }
  mkdirFresh(job.dir);
  mkdirFresh(join(job.dir, 'logs'));
  mkdirFresh(join(job.dir, 'meta'));
  const secrets = SECRETS.get(job);
  if (secrets && !secrets.portable) writeSecretsFile(job.dir, secrets.values);
  writeFileSync(job.script, job.scriptText!, { mode: 0o700 });
  writeNeedsFile(job.dir, jobNeeds(job));
}


/** raw/ (fresh: no leftovers of a start that never ran) and .secrets (0600), which job.sh sources and deletes. */
function writeSecretsFile(dir: string, values: Record<string, string>): void {
  rmSync(join(dir, 'raw.progress'), { force: true });
  rmSync(join(dir, 'raw'), { recursive: true, force: true });
  mkdirFresh(join(dir, 'raw'));
  const file = join(dir, '.secrets');
  rmSync(file, { force: true });
  writeFileSync(file, Object.entries(values).map(([k, v]) => `export ${k}=${shellQuote(v)}\n`).join(''), { mode: 0o600, flag: 'wx' });
}

/** mkdir without the recursive walk (a hot path); creates missing parents only when needed. */
function mkdirFresh(path: string): void {
  try {
    mkdirSync(path, { mode: 0o700 });
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'EEXIST') return;
    if (code === 'ENOENT') { mkdirSync(path, { recursive: true, mode: 0o700 }); return; }
    throw err;
  }
}
