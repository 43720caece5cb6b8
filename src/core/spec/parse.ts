// Spec text -> plain value: JSON when the text starts with '{', else YAML (the `yaml` package, which
// reports line and column). Syntax errors become DroverError('invalid_json' | 'invalid_spec') with the
// line, column and offending line. A parsed YAML value remembers its source, so a later validation error
// naming a path (stages[0].jobs[1].comands) can name its line too (lineOfPath).
import { parseDocument, isMap, isSeq, type Node } from 'yaml';
import { DroverError } from '../errors.ts';
import { checkJsonDepth, checkValueDepth, isTooDeep, refuseTooDeep } from './depth.ts';

const SOURCES = new WeakMap<object, { text: string; doc: ReturnType<typeof parseDocument> }>();

/** Parse YAML text with positions; throws invalid_spec naming line, column and the line itself. */
export function parseYaml(text: string): unknown {
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  const e = doc.errors[0];
  // the parser reports a stack overflow as a syntax error: it is the nesting limit, named as such
  if (e && /call stack/i.test(e.message)) refuseTooDeep('spec');
  if (e) {
    const pos = e.linePos?.[0] ?? lineCol(text, e.pos[0]);
    // at the end of the text the line is empty: show the last line that has something
    const lines = text.split('\n');
    let shown = pos.line;
    while (shown > 1 && !(lines[shown - 1] ?? '').trim()) shown--;
    const msg = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
    throw new DroverError('invalid_spec', `invalid YAML at line ${pos.line}, column ${pos.col ?? (pos as { column?: number }).column}: ${msg}\n  ${shown} | ${lines[shown - 1] ?? ''}`,
      { line: pos.line, column: pos.col ?? (pos as { column?: number }).column });
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    if (isTooDeep(err)) refuseTooDeep('spec');
    if (err instanceof ReferenceError && /alias/i.test(err.message)) {
      throw new DroverError('invalid_spec', 'invalid YAML: its aliasing expands past the limit (100 alias uses; an alias bomb?)', { limit: 100 });
    }
    throw err;
  }
  if (value && typeof value === 'object') SOURCES.set(value, { text, doc });
  return value;
}

/** The line (from 1) where a path like `stages[0].jobs[1].comands` stands in the YAML `value` came from. */
export function lineOfPath(value: unknown, path: string): number | undefined {
  const src = value && typeof value === 'object' ? SOURCES.get(value) : undefined;
  if (!src) return undefined;
  const keys = [...path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)].map((m) => (m[2] !== undefined ? Number(m[2]) : m[1]!));
  let node: unknown = src.doc.contents;
  let at: [number, number, number] | undefined = (node as Node | null)?.range ?? undefined;
  for (const k of keys) {
    if (isMap(node)) {
      const pair = node.items.find((p) => (p.key as { value?: unknown } | null)?.value === k);
      if (!pair) break;
      at = (pair.key as Node).range ?? at;
      node = pair.value;
    } else if (isSeq(node) && typeof k === 'number') {
      node = node.items[k];
      at = (node as Node | null)?.range ?? at;
    } else break;
  }
  return at ? lineCol(src.text, at[0]).line : undefined;
}

export function parseSpecText(text: string): unknown {
  if (/^\s*[{[]/.test(text)) checkJsonDepth(text, 'spec');
  if (/^\s*\{/.test(text)) {
    try {
      return JSON.parse(text);
    } catch (e) {
      const at = lineCol(text, jsonErrorOffset(text));
      throw new DroverError('invalid_json', `invalid JSON at line ${at.line}, column ${at.column}: ${errMsg(e)}`, { line: at.line, column: at.column });
    }
  }
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch (e) {
    if (isTooDeep(e)) refuseTooDeep('spec');
    throw e;
  }
  checkValueDepth(value, 'spec');
  return value;
}

function errMsg(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).replace(/^(JSON|YAML) Parse error:\s*/, '');
}

function lineCol(text: string, offset: number): { line: number; column: number; col: number } {
  const before = text.slice(0, offset);
  const nl = before.lastIndexOf('\n');
  return { line: before.split('\n').length, column: offset - nl, col: offset - nl };
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
