// Workspace paths: canonicalised (symlinks, ..) and kept under the server's workspace root.
import { existsSync, realpathSync, mkdirSync } from 'node:fs';
import { resolve, sep, dirname, join } from 'node:path';
import { DroverError } from './errors.ts';

/** Canonical form of a path that may not exist yet: realpath of its deepest existing ancestor. */
export function canonical(path: string): string {
  let head = resolve(path);
  const tail: string[] = [];
  while (!existsSync(head)) {
    const parent = dirname(head);
    if (parent === head) break;
    tail.unshift(head.slice(parent.length + (parent.endsWith(sep) ? 0 : 1)));
    head = parent;
  }
  const real = realpathSync(head);
  return tail.length ? resolve(real, ...tail) : real;
}

export function isUnder(root: string, path: string): boolean {
  const r = canonical(root);
  const p = canonical(path);
  return p === r || p.startsWith(r.endsWith(sep) ? r : r + sep);
}

/** Resolve a spec's workspace against the root; refuse escapes; check existence unless create. */
export function resolveWorkspace(root: string, ws: { path: string; create: boolean }, field = 'workspace'): string {
  const abs = resolve(root, ws.path);
  if (!isUnder(root, abs)) {
    throw new DroverError('workspace_escape', `${field}: ${ws.path} resolves to ${canonical(abs)}, outside the workspace root ${canonical(root)}`, { path: field, workspace: abs, root });
  }
  if (!ws.create && !existsSync(abs)) {
    throw new DroverError('invalid_spec', `${field}: ${abs} does not exist (create it, or set workspace: {path: ..., create: true})`, { path: field });
  }
  return abs;
}

/** The shared work dir of a run without `workspace:` ($DROVER_WORKDIR of all its jobs). */
export const runWorkDir = (runDir: string): string => join(runDir, 'work');

export function ensureDir(path: string): void {
  mkdirSync(path, { recursive: true });
}
