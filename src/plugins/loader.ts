// Plugin files: `serve --plugins DIR` (default <data-dir>/plugins) loads every *.ts / *.js file in DIR,
// in name order, with a dynamic import — the compiled binary transpiles TypeScript at load. Before the
// first one, the module `drover/plugin` (api.ts) is registered with Bun.plugin, so a plugin's
// `import { defineExecutor } from 'drover/plugin'` gets the host's own objects, with no node_modules.
import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as api from './api.ts';
import { PluginError, type Registry } from './registry.ts';

let installed = false;
/** Make `drover/plugin` importable (once per process). */
export function installPluginApi(): void {
  if (installed) return;
  installed = true;
  Bun.plugin({
    name: 'drover-plugin-api',
    setup(b) { b.module('drover/plugin', () => ({ exports: { ...api, default: api }, loader: 'object' })); },
  });
}

/** The plugin files of DIR, in name order; none when DIR does not exist (the default dir need not). */
export function pluginFiles(dir: string): string[] {
  let names: string[];
  try { names = readdirSync(dir); } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') return [];
    throw new PluginError(dir, `cannot read the plugins dir: ${(e as Error).message}`);
  }
  return names.filter((n) => /\.(ts|js|mjs)$/.test(n) && !n.endsWith('.d.ts') && !n.startsWith('.')).sort()
    .map((n) => join(resolve(dir), n)).filter((f) => statSync(f).isFile());
}

/** Import one plugin file and add its default export to the registry; any failure is a PluginError naming it. */
export async function loadPluginFile(registry: Registry, file: string): Promise<void> {
  installPluginApi();
  const path = resolve(file);
  const t0 = performance.now();
  let mod: { default?: unknown };
  try { mod = await import(path); } catch (e) { throw new PluginError(path, `does not load: ${oneLine(e)}`); }
  if (mod.default === undefined) throw new PluginError(path, 'has no default export (export default defineExecutor({...}))');
  await registry.add(mod.default, path, performance.now() - t0);
}

export async function loadPluginDir(registry: Registry, dir: string): Promise<string[]> {
  const files = pluginFiles(dir);
  for (const f of files) await loadPluginFile(registry, f);
  return files;
}

/** An import error in one line: Bun's build errors carry a position worth keeping. */
function oneLine(e: unknown): string {
  const err = e as { message?: string; position?: { line?: number; column?: number }; errors?: unknown[] };
  const inner = Array.isArray(err?.errors) && err.errors.length ? err.errors[0] as typeof err : err;
  const at = inner?.position?.line ? ` (line ${inner.position.line}${inner.position.column != null ? `, column ${inner.position.column}` : ''})` : '';
  return `${(inner?.message ?? String(e)).split('\n')[0]}${at}`;
}
