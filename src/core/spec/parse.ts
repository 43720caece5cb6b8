// Spec text -> plain value: JSON when the text starts with '{', else YAML (Bun.YAML).
// Syntax errors become DroverError('invalid_json' | 'invalid_spec') with a line number.
import { DroverError } from '../errors.ts';
import { checkJsonDepth, checkValueDepth, isTooDeep, refuseTooDeep } from './depth.ts';

export function parseSpecText(text: string): unknown {
  if (/^\s*[{[]/.test(text)) checkJsonDepth(text, 'spec');
  if (/^\s*\{/.test(text)) {
    try {
      return JSON.parse(text);
    } catch (e) {
      const at = lineCol(text, jsonErrorOffset(text));
      throw new DroverError('invalid_json', `invalid JSON at line ${at.line}, column ${at.column}: ${errMsg(e)}`, at);
    }
  }
  let value: unknown;
  try {
    value = Bun.YAML.parse(text);
  } catch (e) {
    if (isTooDeep(e)) refuseTooDeep('spec');
    const line = yamlErrorLine(text);
    throw new DroverError('invalid_spec', `invalid YAML near line ${line}: ${errMsg(e)}`, { line });
  }
  checkValueDepth(value, 'spec');
  return value;
}

function errMsg(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).replace(/^(JSON|YAML) Parse error:\s*/, '');
}

function lineCol(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const nl = before.lastIndexOf('\n');
  return { line: before.split('\n').length, column: offset - nl };
}

/** Bun's YAML errors carry no position: find the longest line prefix that still parses (binary search). */
function yamlErrorLine(text: string): number {
  const lines = text.split('\n');
  const ok = (n: number) => { try { Bun.YAML.parse(lines.slice(0, n).join('\n')); return true; } catch { return false; } };
  let lo = 0, hi = lines.length; // ok(lo) assumed, !ok(hi) known
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (ok(mid)) lo = mid; else hi = mid;
  }
  return hi;
}

/** Offset of the first JSON syntax error (Bun's JSON.parse messages carry no position). */
function jsonErrorOffset(s: string): number {
  let i = 0;
  const ws = () => { while (i < s.length && ' \t\n\r'.includes(s[i]!)) i++; };
  const fail = (): never => { throw i; };
  const value = (): void => {
    ws();
    const c = s[i];
    if (c === '{') {
      i++; ws();
      if (s[i] === '}') { i++; return; }
      for (;;) {
        ws(); if (s[i] !== '"') fail(); str(); ws();
        if (s[i] !== ':') fail(); i++; value(); ws();
        if (s[i] === ',') { i++; continue; }
        if (s[i] === '}') { i++; return; }
        fail();
      }
    } else if (c === '[') {
      i++; ws();
      if (s[i] === ']') { i++; return; }
      for (;;) {
        value(); ws();
        if (s[i] === ',') { i++; continue; }
        if (s[i] === ']') { i++; return; }
        fail();
      }
    } else if (c === '"') str();
    else {
      const m = /^(-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?|true|false|null)/.exec(s.slice(i, i + 400));
      if (!m) fail();
      i += m![0].length;
    }
  };
  const str = () => {
    i++;
    while (i < s.length && s[i] !== '"') {
      if (s[i]! < ' ') fail();
      if (s[i] === '\\') {
        const m = /^\\(["\\/bfnrt]|u[0-9a-fA-F]{4})/.exec(s.slice(i, i + 6));
        if (!m) fail();
        i += m![0].length;
      } else i++;
    }
    if (i >= s.length) fail();
    i++;
  };
  try {
    value(); ws();
    return Math.min(i, s.length);
  } catch (at) {
    return Math.min(typeof at === 'number' ? at : 0, s.length);
  }
}
