// ${{ params.NAME }} / ${{ needs.STAGE.outputs.KEY }} interpolation: each value stands in EXACTLY,
// whatever quotes surround it (shell-context.ts decides the text for every reference kind).
// Also the submit-time reference check over a whole spec, which refuses unsafe places and unknown
// names (with a "did you mean").
import { DroverError } from '../errors.ts';
import { insertion, slotsOf, UnsafeSlot, type Slot } from './shell-context.ts';
import { didYouMean } from './suggest.ts';
import type { PipelineSpec } from './types.ts';

export type Ref =
  | { kind: 'param'; name: string; text: string; start: number; end: number }
  | { kind: 'needs'; stage: string; key: string; text: string; start: number; end: number }
  | { kind: 'matrix'; name: string; text: string; start: number; end: number };

const PARAM_RE = /^params\.([A-Za-z_][A-Za-z0-9_]*)$/;
const MATRIX_RE = /^matrix\.([A-Za-z_][A-Za-z0-9_]*)$/;
const NEEDS_RE = /^needs\.([A-Za-z0-9][A-Za-z0-9._-]*?)\.outputs\.([A-Za-z0-9_][A-Za-z0-9_.-]*)$/;

/** All ${{ … }} references in a template, in order; throws invalid_spec on anything it does not understand. */
export function scanRefs(template: string, path = 'command'): Ref[] {
  const refs: Ref[] = [];
  let pos = 0;
  for (;;) {
    const start = template.indexOf('${{', pos);
    if (start < 0) return refs;
    const close = template.indexOf('}}', start + 3);
    if (close < 0) throw new DroverError('invalid_spec', `${path}: unclosed '\${{' (expected '}}')`, { path });
    const end = close + 2;
    const text = template.slice(start, end);
    const inner = template.slice(start + 3, close).trim();
    let m: RegExpExecArray | null;
    if ((m = PARAM_RE.exec(inner))) refs.push({ kind: 'param', name: m[1]!, text, start, end });
    else if ((m = NEEDS_RE.exec(inner))) refs.push({ kind: 'needs', stage: m[1]!, key: m[2]!, text, start, end });
    else if ((m = MATRIX_RE.exec(inner))) refs.push({ kind: 'matrix', name: m[1]!, text, start, end });
    else {
      throw new DroverError('invalid_spec',
        `${path}: unsupported expression '${text}' (use \${{ params.NAME }}, \${{ matrix.AXIS }} or \${{ needs.STAGE.outputs.KEY }})`, { path });
    }
    pos = end;
  }
}

/** Names of the params a template uses (unique, in order of first use). */
export function referencedParams(template: string): string[] {
  const names = scanRefs(template).flatMap((r) => (r.kind === 'param' ? [r.name] : []));
  return [...new Set(names)];
}

export interface RenderContext {
  params: Record<string, unknown>;
  needs: Record<string, Record<string, unknown>>;
  /** the job's point of its job-level matrix (absent: the job has none) */
  matrix?: Record<string, unknown>;
}

/** Where (line and column, from 1) an offset of a command falls; a one-line command gives the column only. */
function where(template: string, offset: number): { line?: number; column: number; text: string } {
  const before = template.slice(0, offset);
  const nl = before.lastIndexOf('\n');
  const column = offset - nl;
  if (!template.includes('\n')) return { column, text: `column ${column}` };
  const line = before.split('\n').length;
  return { line, column, text: `line ${line}, column ${column}` };
}

/** The quoting slot of each reference; a place where no value is safe -> invalid_spec naming the column. */
function slotsFor(template: string, refs: Ref[], path: string): Slot[] {
  try {
    return slotsOf(template, refs);
  } catch (err) {
    if (!(err instanceof UnsafeSlot)) throw err;
    const at = where(template, err.offset);
    const ref = refs.find((r) => r.start === err.offset);
    const what = ref ? `${ref.text} cannot stand here: it is ${err.reason}` : `cannot insert a value in this command: ${err.reason}`;
    throw new DroverError('invalid_spec', `${path}, ${at.text}: ${what}`, { path, column: at.column, ...(at.line ? { line: at.line } : {}) });
  }
}

/** A value as the command sees it: strings as they are, other JSON as JSON text. */
export function valueText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === undefined) return '';
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return JSON.stringify(value) ?? String(value);
}

/** Replace every reference with its value, exactly, for the quoting around it. Unknown params / stages / outputs -> invalid_spec. */
export function renderCommand(template: string, ctx: RenderContext, path = 'command'): string {
  let out = '';
  let pos = 0;
  const refs = scanRefs(template, path);
  const slots = slotsFor(template, refs, path);
  for (const [i, r] of refs.entries()) {
    let value: unknown;
    if (r.kind === 'param') {
      if (!Object.hasOwn(ctx.params, r.name) || ctx.params[r.name] === undefined) {
        throw new DroverError('invalid_spec', `${path}: unknown param '${r.name}'${didYouMean(r.name, Object.keys(ctx.params))}`, { path, param: r.name });
      }
      value = ctx.params[r.name];
    } else if (r.kind === 'matrix') {
      if (!ctx.matrix || !Object.hasOwn(ctx.matrix, r.name)) {
        throw new DroverError('invalid_spec', `${path}: ${r.text} names no matrix axis of this job`, { path, axis: r.name });
      }
      value = ctx.matrix[r.name];
    } else {
      const outputs = Object.hasOwn(ctx.needs, r.stage) ? ctx.needs[r.stage] : undefined;
      if (!outputs) throw new DroverError('invalid_spec', `${path}: unknown stage '${r.stage}' in ${r.text}`, { path, stage: r.stage });
      if (!Object.hasOwn(outputs, r.key) || outputs[r.key] === undefined) {
        throw new DroverError('invalid_spec', `${path}: stage '${r.stage}' has no output '${r.key}'`, { path, stage: r.stage, key: r.key });
      }
      value = outputs[r.key];
    }
    const text = valueText(value);
    // bash strings end at a NUL byte: the command would see a shorter value
    if (text.includes('\0')) throw new DroverError('invalid_spec', `${path}: the value of ${r.text} contains a NUL byte, which no shell word can hold`, { path });
    out += template.slice(pos, r.start) + insertion(text, slots[i]!);
    pos = r.end;
  }
  return out + template.slice(pos);
}

/** Check every command's references: syntax, needs.S only for direct needs, and (unless params is null) params. */
export function checkRefs(spec: PipelineSpec, params: Record<string, unknown> | null): void {
  spec.stages.forEach((stage, i) => {
    stage.jobs.forEach((job, j) => {
      job.commands.forEach((cmd, k) => {
        const path = `stages[${i}].jobs[${j}].commands[${k}]`;
        const refs = scanRefs(cmd.run, path);
        slotsFor(cmd.run, refs, path);
        for (const r of refs) {
          if (r.kind === 'param' && params && !Object.hasOwn(params, r.name)) {
            throw new DroverError('invalid_spec', `${path}: unknown param '${r.name}'${didYouMean(r.name, Object.keys(params))}`, { path, param: r.name });
          }
          if (r.kind === 'matrix' && !(job.matrix && Object.hasOwn(job.matrix, r.name))) {
            throw new DroverError('invalid_spec', `${path}: ${r.text} names no matrix axis of job '${job.name}'`, { path, axis: r.name });
          }
          if (r.kind === 'needs' && !stage.needs.includes(r.stage)) {
            throw new DroverError('invalid_spec',
              `${path}: ${r.text} refers to stage '${r.stage}', which is not in stages[${i}].needs${didYouMean(r.stage, stage.needs)}`, { path, stage: r.stage });
          }
        }
      });
    });
  });
}

/** Submit-time check; params = spec.params merged with matrix keys and run overrides. */
export function checkReferences(spec: PipelineSpec, params: Record<string, unknown>): void {
  checkRefs(spec, params);
}
