// The whole tree type-checks (tsc --noEmit): bun runs TypeScript without checking it, so this is where
// a typed status that is not in its state machine, or a row type that drifted from the drizzle schema
// (src/db/row-types.ts), is caught.
import { test, expect } from 'bun:test';
import { resolve, join } from 'node:path';

const ROOT = resolve(import.meta.dir, '../..');

test('tsc --noEmit finds no type errors', () => {
  const r = Bun.spawnSync([join(ROOT, 'node_modules/.bin/tsc'), '--noEmit', '-p', ROOT], { cwd: ROOT, stdout: 'pipe', stderr: 'pipe' });
  const out = r.stdout.toString() + r.stderr.toString();
  expect(out.trim()).toBe('');
  expect(r.exitCode).toBe(0);
}, 180_000);
