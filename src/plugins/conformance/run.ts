// `drover plugin test`: the conformance suite against one executor — a plugin file, or a built-in by
// name. It checks the file loads (the same checks as `serve`), starts a private server with it on a
// temp data dir, runs the cases (cases.ts) and reports each: pass, FAIL with the reason, or skip.
import { mkdirSync, mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { installPluginApi } from '../loader.ts';
import { builtinDefinitions } from '../builtins.ts';
import { PluginError, Registry, parsePluginOpts } from '../registry.ts';
import type { ConformanceHints } from '../api.ts';
import { CASES, runRestartPhase, type Case, type SuiteContext } from './cases.ts';
import { PrivateServer } from './server.ts';

export interface SuiteOptions {
  /** a plugin file, or the name of a built-in executor */
  target: string;
  pluginOpts: string[];
  /** run only these cases */
  only?: string[];
  /** how long a job may take to be seen ending */
  slowMs?: number;
  keep?: boolean;
}

export interface CaseResult { name: string; what: string; result: 'pass' | 'fail' | 'skip'; detail: string; ms: number }

const quietLog = { info() {}, warn() {}, error() {}, scope() { return quietLog; } };

/** What the suite tests: the executor's name, the serve flags that load it, its hints. */
async function resolveTarget(o: SuiteOptions, dataDir: string): Promise<{ name: string; args: string[]; hints: ConformanceHints }> {
  const file = resolve(o.target);
  const registry = new Registry({ dataDir, log: quietLog, settings: parsePluginOpts(o.pluginOpts) });
  if (existsSync(file)) {
    installPluginApi();
    let mod: { default?: unknown };
    try { mod = await import(file); } catch (e) { throw new PluginError(file, `does not load: ${(e as Error).message?.split('\n')[0]}`); }
    const def = mod.default as { name?: string; conformance?: ConformanceHints };
    await registry.add(def, file); // the same checks as serve (settings too), before any server starts
    return { name: def.name!, args: ['--plugin', file], hints: def.conformance ?? {} };
  }
  const def = builtinDefinitions().find((d) => d.name === o.target);
  if (!def) throw new PluginError(o.target, 'is neither a plugin file nor a built-in executor (local, gpu, slurm where installed)');
  return { name: def.name, args: [], hints: (def as { conformance?: ConformanceHints }).conformance ?? {} };
}

export async function runSuite(o: SuiteOptions, progress: (r: CaseResult) => void = () => {}): Promise<CaseResult[]> {
  const root = mkdtempSync(join(tmpdir(), 'drover-plugin-test-'));
  const tmp = join(root, 'scratch'), ws = join(root, 'ws');
  mkdirSync(tmp); mkdirSync(ws);
  const target = await resolveTarget(o, join(root, 'data'));
  const opts = o.pluginOpts.flatMap((p) => ['--plugin-opt', p]);
  const server = new PrivateServer({ dataDir: join(root, 'data'), workspaceRoot: ws, args: [...target.args, ...opts, '--max-parallel', '16'] });
  const unavailable = target.hints.unavailable;
  const ctx: SuiteContext = {
    server, executor: target.name, tmp, slowMs: o.slowMs ?? 60_000,
    unavailableServer: unavailable ? async () => {
      const extra = Object.entries(unavailable).flatMap(([k, v]) => ['--plugin-opt', `${target.name}.${k}=${JSON.stringify(v)}`]);
      const s = new PrivateServer({ dataDir: join(root, 'data-unavailable'), workspaceRoot: ws, args: [...target.args, ...opts, ...extra] });
      await s.start();
      return s;
    } : null,
  };
  const wanted = (c: Case) => !o.only?.length || o.only.includes(c.name);
  const results: CaseResult[] = [];
  const record = (c: Case, result: CaseResult['result'], detail: string, t0: number) => {
    const r = { name: c.name, what: c.what, result, detail, ms: Math.round(performance.now() - t0) };
    results.push(r);
    progress(r);
  };
  const runCase = async (c: Case) => {
    const t0 = performance.now();
    try {
      const out = await c.run(ctx);
      if (out && 'skip' in out) record(c, 'skip', out.skip, t0); else record(c, 'pass', '', t0);
    } catch (e) { record(c, 'fail', (e as Error).message, t0); }
  };
  try {
    await server.start();
    await Promise.all(CASES.filter((c) => c.phase === 'jobs' && wanted(c)).map(runCase));
    const restart = CASES.filter((c) => c.phase === 'restart' && wanted(c));
    if (restart.length) {
      const t0 = performance.now();
      let out: Record<string, string | null>;
      try { out = await runRestartPhase(ctx); } catch (e) { out = Object.fromEntries(restart.map((c) => [c.name, (e as Error).message])); }
      for (const c of restart) record(c, out[c.name] ? 'fail' : 'pass', out[c.name] ?? '', t0);
    }
    await server.stop();
    for (const c of CASES.filter((x) => x.phase === 'unavailable' && wanted(x))) await runCase(c);
  } catch (e) {
    // the server itself failed: every case not yet run fails with that reason
    for (const c of CASES.filter((x) => wanted(x) && !results.some((r) => r.name === x.name))) record(c, 'fail', `server: ${(e as Error).message}`, performance.now());
  } finally {
    await server.stop();
    if (!o.keep) rmSync(root, { recursive: true, force: true });
    else process.stderr.write(`drover plugin test: kept ${root} (data dir: ${join(root, 'data')})\n`);
  }
  return CASES.filter(wanted).map((c) => results.find((r) => r.name === c.name)!);
}
