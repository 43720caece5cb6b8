// needs.json is written in place (no temporary file and rename): a link a job left where it goes is
// replaced, and what it pointed to is never written through.
import { test, expect, afterAll } from 'bun:test';
import { mkdtempSync, symlinkSync, readFileSync, writeFileSync, lstatSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeNeedsFile } from '../../src/core/scheduler/needs.ts';

const dir = mkdtempSync(join(tmpdir(), 'drover-needs-link-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('a symbolic link in place of needs.json is replaced, its target untouched; the file is 0600', () => {
  const target = join(dir, 'precious');
  writeFileSync(target, 'keep me');
  symlinkSync(target, join(dir, 'needs.json'));
  writeNeedsFile(dir, { gen: { status: 'succeeded', outputs: { rows: '1' }, jobs: [] } });
  expect(readFileSync(target, 'utf8')).toBe('keep me');
  const st = lstatSync(join(dir, 'needs.json'));
  expect([st.isSymbolicLink(), st.mode & 0o777]).toEqual([false, 0o600]);
  expect(JSON.parse(readFileSync(join(dir, 'needs.json'), 'utf8'))).toEqual({ gen: { status: 'succeeded', outputs: { rows: '1' }, jobs: [] } });
  writeNeedsFile(dir, {}); // (a second write of a shorter document leaves nothing of the first)
  expect(readFileSync(join(dir, 'needs.json'), 'utf8')).toBe('{}');
});
