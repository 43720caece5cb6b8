// result.json of a run: outcome, effective config per job, timings, and provenance — the drover
// version and host, and per job the SHA-256 of job.sh (the exact script that ran) and of each command
// line as rendered, and the NAMES of the environment variables it got (values never; secrets by name).
// Written when the run ends (redacted; attestation.json beside it signs it: core/provenance).
import { readFileSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { hostname, platform, arch } from 'node:os';
import { sha256Hex } from '../provenance/attest.ts';
import { scriptFacts } from '../provenance/script-facts.ts';
import { commandsByJob } from '../views.ts';
import type { CommandRow, JobRow, RunRow } from '../types.ts';
import type { Store, Logger } from '../ports.ts';
import type { SecretsView } from '../secrets/types.ts';
import type { PipelineSpec } from '../spec/index.ts';

interface Source { store: Store; specOfRun(runId: string): PipelineSpec }

const durationS = (a: string | null, b: string | null) => (a && b ? (Date.parse(b) - Date.parse(a)) / 1000 : null);

export function runResult(src: Source, run: RunRow) {
  const spec = src.specOfRun(run.id);
  const jobs = src.store.jobsOfRun(run.id);
  const stages = src.store.stagesOfRun(run.id);
  const params = JSON.parse(run.params);
  const commands = commandsByJob(src.store, run.id);
  return {
    id: run.id, pipeline: run.pipeline, pipeline_version: run.pipeline_version, status: run.status,
    reason: run.reason, params, trigger: JSON.parse(run.trigger),
    created_at: run.created_at, started_at: run.started_at, ended_at: run.ended_at,
    duration_s: durationS(run.started_at, run.ended_at),
    stages: stages.map((s) => ({ name: s.name, status: s.status, outputs: s.outputs ? JSON.parse(s.outputs) : {} })),
    jobs: jobs.map((j) => jobResult(spec, j, run, params, commands.get(j.id) ?? [])),
    provenance: {
      drover_version: process.env.DROVER_VERSION ?? null, host: hostname(), platform: `${platform()}-${arch()}`,
      workspace: run.workspace, secret_names: spec.secrets,
    },
  };
}

function jobResult(spec: PipelineSpec, j: JobRow, run: RunRow, params: unknown, commands: CommandRow[]) {
  const js = spec.stages[j.stage_idx]!.jobs[j.job_idx]!;
  let script: string | null = null;
  try { script = readFileSync(join(run.dir, 'jobs', j.id, 'job.sh'), 'utf8'); } catch { /* never started */ }
  const facts = script === null ? null : scriptFacts(script);
  return {
    id: j.id, stage: spec.stages[j.stage_idx]!.name, name: j.name, matrix: j.matrix ? JSON.parse(j.matrix) : null, status: j.status, reason: j.reason, message: j.message,
    exit_code: j.exit_code, attempt: j.attempt, started_at: j.started_at, ended_at: j.ended_at,
    duration_s: durationS(j.started_at, j.ended_at),
    outputs: j.outputs ? JSON.parse(j.outputs) : {},
    effective_config: { executor: j.executor, resources: js.resources, timeout_ms: js.timeout_ms ?? spec.timeout_ms ?? null, device: j.device ? JSON.parse(j.device) : { type: 'cpu' }, params },
    stats: j.stats ? JSON.parse(j.stats) : null,
    script_sha256: script === null ? null : sha256Hex(script),
    env_names: facts ? [...facts.envNames, ...spec.secrets].sort() : null,
    commands: commands.map((c) => {
      const line = facts?.commands.get(c.idx);
      return { index: c.idx, exit_code: c.exit_code, started_at: c.started_at, ended_at: c.ended_at, sha256: line === undefined ? null : sha256Hex(line) };
    }),
  };
}

/** result.json of an ended run, redacted, written atomically; `onResult` signs it (provenance). */
export function writeRunResult(src: Source, runId: string, log: Logger, secrets?: SecretsView, onResult?: (run: RunRow, text: string) => void): void {
  try {
    const run = src.store.getRun(runId)!;
    const json = JSON.stringify(runResult(src, run), null, 2);
    const text = (secrets ? secrets.redactText(json) : json) + '\n';
    const tmp = join(run.dir, '.result.json.tmp');
    writeFileSync(tmp, text, { mode: 0o600 });
    renameSync(tmp, join(run.dir, 'result.json'));
    onResult?.(run, text);
  } catch (err) {
    log.warn('could not write result.json', { runId, err: String(err) });
  }
}
