// result.json of a run: outcome, effective config per job, timings, and provenance — the drover
// version and host, and per job the SHA-256 of job.sh (the exact script that ran) and of each command
// line as rendered, and the NAMES of the environment variables it got (values never; secrets by name).
// Written when the run ends (redacted; attestation.json beside it signs it: core/provenance).
import { readFileSync, renameSync, openSync, writeSync, closeSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
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

/** The parts of result.json around its jobs (the fields before them, provenance after). */
function resultFrame(src: Source, run: RunRow) {
  const spec = src.specOfRun(run.id);
  const params = JSON.parse(run.params);
  return {
    spec, params,
    head: {
      id: run.id, pipeline: run.pipeline, pipeline_version: run.pipeline_version, status: run.status,
      reason: run.reason, params, trigger: JSON.parse(run.trigger),
      created_at: run.created_at, started_at: run.started_at, ended_at: run.ended_at,
      duration_s: durationS(run.started_at, run.ended_at),
      stages: src.store.stagesOfRun(run.id).map((s) => ({ name: s.name, status: s.status, outputs: s.outputs ? JSON.parse(s.outputs) : {} })),
    },
    provenance: {
      drover_version: process.env.DROVER_VERSION ?? null, host: hostname(), platform: `${platform()}-${arch()}`,
      workspace: run.workspace, secret_names: spec.secrets,
    },
  };
}

/** result.json as one object (tests compare the written text with it). */
export function runResult(src: Source, run: RunRow) {
  const { spec, params, head, provenance } = resultFrame(src, run);
  const commands = commandsByJob(src.store, run.id);
  return { ...head, jobs: src.store.jobsOfRun(run.id).map((j) => jobResult(spec, j, run, params, commands.get(j.id) ?? [])), provenance };
}

/** JSON.stringify(runResult(src, run), null, 2) + '\n', the same text, a job at a time: a run of
 *  100,000 jobs made a 120 MB text at once and took the server to 1.4 GB. */
export function* runResultText(src: Source, run: RunRow): Generator<string> {
  const { spec, params, head, provenance } = resultFrame(src, run);
  const commands = commandsByJob(src.store, run.id);
  yield `${JSON.stringify(head, null, 2).slice(0, -2)},\n  "jobs": [`; // (without its closing "\n}")
  let first = true;
  for (const j of src.store.eachJobOfRun(run.id)) {
    yield `${first ? '' : ','}\n    ${JSON.stringify(jobResult(spec, j, run, params, commands.get(j.id) ?? []), null, 2).replace(/\n/g, '\n    ')}`;
    first = false;
  }
  yield `${first ? '' : '\n  '}],\n  "provenance": ${JSON.stringify(provenance, null, 2).replace(/\n/g, '\n  ')}\n}\n`;
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

/** result.json of an ended run, redacted, written atomically a few jobs at a time; `onResult` gets
 *  the SHA-256 of the text written, to sign it (provenance). Each piece is redacted whole: pieces end
 *  between two jobs, where no secret value can straddle them. */
export function writeRunResult(src: Source, runId: string, log: Logger, secrets?: SecretsView, onResult?: (run: RunRow, sha256: string) => void): void {
  let fd: number | null = null;
  let tmp: string | null = null;
  try {
    const run = src.store.getRun(runId)!;
    tmp = join(run.dir, '.result.json.tmp');
    fd = openSync(tmp, 'w', 0o600);
    const hash = createHash('sha256');
    let pieces: string[] = [], size = 0;
    const flush = () => {
      const text = pieces.join('');
      const red = secrets ? secrets.redactText(text) : text;
      hash.update(red);
      writeSync(fd!, red);
      pieces = []; size = 0;
    };
    for (const piece of runResultText(src, run)) {
      pieces.push(piece);
      if ((size += piece.length) >= 256 * 1024) flush();
    }
    flush();
    closeSync(fd); fd = null;
    renameSync(tmp, join(run.dir, 'result.json'));
    onResult?.(run, hash.digest('hex'));
  } catch (err) {
    if (fd !== null) { try { closeSync(fd); } catch { /* closed */ } }
    if (tmp) rmSync(tmp, { force: true });
    log.warn('could not write result.json', { runId, err: String(err) });
  }
}
