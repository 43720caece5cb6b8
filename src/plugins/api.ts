// The plugin API: what `import … from 'drover/plugin'` gives a plugin file (loader.ts registers this
// module under that name, so host and plugins share these very objects), and what the built-in
// executors are defined with too. docs/PLUGINS.md is its guide. Changing anything here that a plugin
// can see is an API change: apiVersion goes up only for a breaking one, and the host then keeps
// accepting the previous version (SUPPORTED_API_VERSIONS).
import { readFileSync } from 'node:fs';
import * as v from 'valibot';
import type {
  Executor, ExecutorContext, Handle, Observation, PreparedJob, JobResult, Capacity, Blocker, Admission, Logger,
} from '../core/ports.ts';
import { readJobResult, readMarkers } from '../runner/meta.ts';
import { shellQuote } from '../runner/quote.ts';
import { lostEnd } from '../core/observations.ts';

export type { Executor, Handle, Observation, PreparedJob, JobResult, Capacity, Blocker, Admission, Logger };

/** The API version this binary speaks; a plugin declares the one it was written for. */
export const API_VERSION = 1;
/** The versions this binary loads: the current one and (once there is one) the previous. */
export const SUPPORTED_API_VERSIONS: readonly number[] = [1];

/** What the host gives an executor: its name, the data dir, a logger, and the way to report ends. */
export interface ExecutorHost extends ExecutorContext {
  /** the name it is registered under (jobs say `executor: <name>`) */
  readonly name: string;
  /** the server's data dir (state a plugin keeps should live under `<dataDir>/plugins/<name>/`) */
  readonly dataDir: string;
}

/** Per-call time limits (ms) the host enforces; null: no limit for that call (use with care). */
export type CallTimeouts = Partial<Record<'detect' | 'start' | 'startMany' | 'poll' | 'cancel' | 'adopt', number | null>>;

/** How `drover plugin test` puts the executor where its backend is missing (the `detect` case). */
export interface ConformanceHints {
  /** settings (merged over the tested ones) under which detect() must report available: false */
  unavailable?: Record<string, unknown>;
}

export interface ExecutorDefinition<S = Record<string, unknown>> {
  /** the plugin API version the file was written for (this binary: API_VERSION) */
  apiVersion: number;
  /** the executor's name: lowercase letters, digits, `-` and `_` (jobs say `executor: <name>`) */
  name: string;
  /** a valibot schema for the settings (`--plugin-opt NAME.KEY=VALUE`); absent: no settings accepted */
  settings?: v.GenericSchema<unknown, S>;
  /** Make the executor. Called once at `serve` start, after the settings were validated. */
  create(settings: S, host: ExecutorHost): Executor | Promise<Executor>;
  /** per-call time limits over the host's default (`serve --plugin-timeout`) */
  timeouts?: CallTimeouts;
  conformance?: ConformanceHints;
}

/** A plugin file's default export. Returns its argument: the host checks it when it loads the file. */
export function defineExecutor<S = Record<string, unknown>>(def: ExecutorDefinition<S>): ExecutorDefinition<S> {
  return def;
}

// ---- helpers: what every executor needs, so none re-implements the runner ----

/** The job's runner script (job.sh), already rendered and written into the job folder by the host. */
export function jobScript(job: PreparedJob): string {
  return job.scriptText ?? readFileSync(job.script, 'utf8');
}

/** The result the runner left in a job folder (exit codes, per-command meta, outputs): read it once the job has ended. */
export function readResult(handle: Pick<Handle, 'dir' | 'commandCount'>): JobResult {
  return readJobResult(handle.dir, handle.commandCount);
}

/** The observation of an ended job: its result read from its folder. */
export function exited(jobId: string, attempt: number, handle: Pick<Handle, 'dir' | 'commandCount'>): Observation {
  return { jobId, attempt, state: 'exited', result: readResult(handle) };
}

/** The observation of a job whose end cannot be read (never started, vanished): it fails as `lost`. */
export function lost(jobId: string, attempt: number, why: string): Observation {
  return lostEnd(jobId, attempt, why);
}

/** The runner's exit marker in job.out, or null while the job has not ended: a job has ended when this is not null. */
export function exitCode(handle: Pick<Handle, 'dir'>): number | null {
  return readMarkers(handle.dir).rc;
}

export { shellQuote, v };
