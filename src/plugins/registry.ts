// The executors a server runs, by name: the built-ins (builtins.ts) and the plugin files loader.ts
// found, all added the same way: the definition is checked (api version, name, create), its settings
// are validated by its own schema, the executor is made with a host, and every call into it is guarded
// (guard.ts). Any refusal is a PluginError naming the source and the reason: `serve` stops before it
// opens anything (exit 2), so a server never runs with half its executors.
import * as v from 'valibot';
import type { Executor, ExecutorContext, LoadedExecutor, Logger, Observation } from '../core/ports.ts';
import { SUPPORTED_API_VERSIONS, type ExecutorDefinition, type ExecutorHost } from './api.ts';
import { badObservation, guardExecutor, type CallErrors } from './guard.ts';

export const BUILT_IN = 'built-in';
const NAME = /^[a-z][a-z0-9_-]{0,39}$/;
/** names the engine gives a meaning of its own */
const RESERVED = new Set(['agent']);
export const DEFAULT_CALL_TIMEOUT_MS = 30_000;

export class PluginError extends Error {
  constructor(readonly source: string, readonly reason: string) {
    super(`${source.startsWith('/') ? `plugin ${source}` : source === BUILT_IN ? 'built-in executor' : source}: ${reason}`);
    this.name = 'PluginError';
  }
}

export interface RegistryOptions {
  dataDir: string;
  log: Logger;
  /** --plugin-opt NAME.KEY=VALUE, by name */
  settings?: Map<string, Record<string, unknown>>;
  /** --plugin-timeout: the default limit of each async executor call */
  timeoutMs?: number;
}

export interface RegistryEntry { executor: LoadedExecutor; errors: CallErrors; loadMs: number }

export class Registry {
  readonly entries = new Map<string, RegistryEntry>();
  constructor(private readonly o: RegistryOptions) {}

  /** The executors, as the engine takes them. */
  executors(): Map<string, LoadedExecutor> {
    return new Map([...this.entries].map(([n, e]) => [n, e.executor]));
  }

  /** Check `def` (a built-in's or a plugin file's default export) and add its executor. */
  async add(def: unknown, source: string, loadMs = 0): Promise<LoadedExecutor> {
    const d = checkDefinition(def, source);
    if (RESERVED.has(d.name)) throw new PluginError(source, `the name '${d.name}' is reserved`);
    const taken = this.entries.get(d.name);
    if (taken) throw new PluginError(source, `the name '${d.name}' is already taken (by ${taken.executor.source})`);
    const settings = parseSettings(d, this.o.settings?.get(d.name) ?? {}, source);
    let ctx: ExecutorContext | null = null;
    const log = this.o.log.scope({ executor: d.name });
    const host: ExecutorHost = {
      name: d.name, dataDir: this.o.dataDir, log,
      notify: (obs: Observation) => {
        const bad = badObservation(obs);
        if (bad) { log.error('executor reported a malformed observation; ignored', { problem: bad }); return; }
        if (!ctx) { log.warn('executor reported before the server started; ignored', { jobId: obs.jobId }); return; }
        ctx.notify(obs);
      },
      recordStats: (jobId, attempt, stats) => ctx?.recordStats(jobId, attempt, stats),
    };
    let impl: Executor;
    try { impl = await d.create(settings, host); } catch (e) { throw new PluginError(source, `create() threw: ${(e as Error)?.message ?? String(e)}`); }
    const missing = ['detect', 'start', 'poll', 'cancel'].filter((m) => typeof (impl as unknown as Record<string, unknown>)?.[m] !== 'function');
    if (missing.length) throw new PluginError(source, `create() returned an executor without ${missing.join(', ')}()`);
    const { executor, errors } = guardExecutor(impl, { name: d.name, timeoutMs: this.o.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS, timeouts: d.timeouts, log: () => log, apiVersion: d.apiVersion });
    // the engine's context reaches the executor only through `host` (checked observations)
    const loaded: LoadedExecutor = Object.assign(executor, { name: d.name, source, apiVersion: d.apiVersion, callErrors: errors, init: (c: ExecutorContext) => { ctx = c; } });
    this.entries.set(d.name, { executor: loaded, errors, loadMs });
    return loaded;
  }

  /** --plugin-opt for a name that nothing loaded is a mistake, not something to ignore. */
  checkUnusedSettings(): void {
    for (const name of this.o.settings?.keys() ?? []) {
      if (!this.entries.has(name)) throw new PluginError('--plugin-opt', `'${name}' names no loaded executor (loaded: ${[...this.entries.keys()].join(', ')})`);
    }
  }
}

function checkDefinition(def: unknown, source: string): ExecutorDefinition<unknown> {
  if (!def || typeof def !== 'object') throw new PluginError(source, 'its default export is not an executor definition (export default defineExecutor({...}))');
  const d = def as Record<string, unknown>;
  if (typeof d.apiVersion !== 'number') throw new PluginError(source, 'its definition has no apiVersion (export default defineExecutor({apiVersion: 1, ...}))');
  if (!SUPPORTED_API_VERSIONS.includes(d.apiVersion)) throw new PluginError(source, `apiVersion ${d.apiVersion} is not supported by this drover (supported: ${SUPPORTED_API_VERSIONS.join(', ')})`);
  if (typeof d.name !== 'string' || !NAME.test(d.name)) throw new PluginError(source, `name ${JSON.stringify(d.name)} is not a valid executor name (lowercase letters, digits, - and _, starting with a letter)`);
  if (typeof d.create !== 'function') throw new PluginError(source, 'its definition has no create(settings, host) function');
  if (d.settings !== undefined && !(d.settings && typeof d.settings === 'object' && '~standard' in d.settings)) throw new PluginError(source, 'settings is not a valibot schema (use v from drover/plugin)');
  return def as ExecutorDefinition<unknown>;
}

function parseSettings(d: ExecutorDefinition<unknown>, raw: Record<string, unknown>, source: string): unknown {
  if (!d.settings) {
    const keys = Object.keys(raw);
    if (keys.length) throw new PluginError(source, `bad settings: '${d.name}' takes no settings (got ${keys.map((k) => `${d.name}.${k}`).join(', ')})`);
    return {};
  }
  const r = v.safeParse(d.settings, raw);
  if (r.success) return r.output;
  const problems = r.issues.map((i) => { const path = v.getDotPath(i); return path ? `${d.name}.${path}: ${i.message}` : i.message; });
  throw new PluginError(source, `bad settings: ${problems.join('; ')}`);
}

/** `NAME.KEY=VALUE` (repeatable) → settings by name; VALUE is JSON when it parses as JSON, else the string. */
export function parsePluginOpts(list: string[]): Map<string, Record<string, unknown>> {
  const out = new Map<string, Record<string, unknown>>();
  for (const item of list) {
    const m = /^([a-z][a-z0-9_-]*)\.([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(item);
    if (!m) throw new PluginError('--plugin-opt', `'${item}' is not NAME.KEY=VALUE`);
    const [, name, key, text] = m as unknown as [string, string, string, string];
    let value: unknown = text;
    try { value = JSON.parse(text); } catch { /* a plain string */ }
    const s = out.get(name) ?? {};
    s[key] = value;
    out.set(name, s);
  }
  return out;
}
