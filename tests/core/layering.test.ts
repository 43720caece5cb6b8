// Holds the architecture's lines: the core imports no Hono, ws, bun:sqlite, db, metrics or executor plugin,
// and SQL lives only in src/db.
import { test, expect } from 'bun:test';
import { Glob } from 'bun';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const SRC = resolve(import.meta.dir, '../../src');
const files = (dir: string) => [...new Glob('**/*.ts').scanSync(join(SRC, dir))].map((f) => join(SRC, dir, f));

test('src/core imports nothing from HTTP, WebSocket, SQLite, db or plugins', () => {
  const offenders: string[] = [];
  for (const f of files('core')) {
    for (const m of readFileSync(f, 'utf8').matchAll(/from\s+'([^']+)'/g)) {
      const spec = m[1]!;
      if (/^(hono|ws|bun:sqlite|drizzle-orm)/.test(spec) || /\/(db|server|ws|plugins|metrics)\//.test(spec)) offenders.push(`${f}: ${spec}`);
    }
  }
  expect(offenders).toEqual([]);
});

test('SQL statements appear only under src/db', () => {
  const offenders: string[] = [];
  for (const f of files('.')) {
    if (f.startsWith(join(SRC, 'db'))) continue;
    const text = readFileSync(f, 'utf8');
    if (/\b(SELECT\s+[\w*]+.*\bFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM)\b/.test(text)) offenders.push(f);
  }
  expect(offenders).toEqual([]);
});
