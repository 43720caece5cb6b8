// "Did you mean" and positions: the pieces behind the error messages of issue 13 part 6.
import { expect, test } from 'bun:test';
import { closest, editDistance, lineOfPath, parseSpecText } from '../../src/core/spec/index.ts';

test('edit distance counts a swap of neighbours as one edit', () => {
  expect(editDistance('comands', 'commands')).toBe(1);
  expect(editDistance('stagse', 'stages')).toBe(1);
  expect(editDistance('abc', 'abc')).toBe(0);
  expect(editDistance('', 'ab')).toBe(2);
});

test('closest suggests only a likely typo', () => {
  expect(closest('epoch', ['epochs', 'lr'])).toBe('epochs');
  expect(closest('biuld', ['build', 'test'])).toBe('build');
  expect(closest('LR', ['lr'])).toBe('lr');
  expect(closest('x', ['lr', 'seed'])).toBeUndefined();
  expect(closest('timeout', ['name', 'stages'])).toBeUndefined();
});

test('a YAML error names line and column and shows the line', () => {
  let msg = '';
  try { parseSpecText('name: p\nstages:\n  - name: a\n    commands: [x\n  - name: b\n'); } catch (e) { msg = (e as Error).message; }
  expect(msg).toMatch(/^invalid YAML at line 5, column 3: /);
  expect(msg).toContain('\n  5 |   - name: b');
  try { parseSpecText('name: p\nname: q\n'); } catch (e) { msg = (e as Error).message; }
  expect(msg).toMatch(/line 2, column 1: .*[Uu]nique/);
});

test('lineOfPath finds the line of a spec path in the YAML it came from', () => {
  const v = parseSpecText('name: p\nstages:\n  - name: a\n    commands: [x]\n  - name: b\n    jobs:\n      - name: j\n        comands: [y]\n');
  expect(lineOfPath(v, 'stages[1].jobs[0].comands')).toBe(8);
  expect(lineOfPath(v, 'stages[0].commands[0]')).toBe(4);
  expect(lineOfPath({ name: 'p' }, 'name')).toBeUndefined(); // not from YAML
});
