// Nesting limits for anything parsed from a request (JSON bodies, YAML specs, WebSocket messages):
// checked before any recursive code (JSON.stringify, valibot, the validator) touches the value, so
// a 100,000-deep array is a 400 naming the limit, not a stack overflow. JSON text is scanned without
// recursion before it is parsed; a parsed value (YAML, whose aliases can share one node many times)
// is walked with an explicit stack and a node budget, so an alias bomb is refused too.
import { DroverError } from '../errors.ts';

export const MAX_DEPTH = 64;
/** Nodes visited in a parsed value (an alias counts each time it is reached). */
export const MAX_NODES = 1_000_000;

const tooDeep = (what: string): never => {
  throw new DroverError('invalid_request', `${what}: nested deeper than the limit of ${MAX_DEPTH} levels`, { path: '(body)', limit: MAX_DEPTH });
};

/** Throws when JSON text nests arrays/objects deeper than MAX_DEPTH (strings skipped; no recursion). */
export function checkJsonDepth(text: string, what = 'request body'): void {
  let depth = 0;
  let inStr = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inStr) {
      if (c === 92) i++; // backslash: skip the escaped character
      else if (c === 34) inStr = false;
    } else if (c === 34) inStr = true;
    else if (c === 91 || c === 123) { if (++depth > MAX_DEPTH) tooDeep(what); }
    else if (c === 93 || c === 125) depth--;
  }
}

/** Throws when a parsed value nests deeper than MAX_DEPTH or has more than MAX_NODES nodes (no recursion). */
export function checkValueDepth(value: unknown, what = 'request body'): void {
  const stack: [unknown, number][] = [[value, 0]];
  let nodes = 0;
  while (stack.length) {
    const [v, d] = stack.pop()!;
    if (++nodes > MAX_NODES) {
      throw new DroverError('invalid_request', `${what}: more than the limit of ${MAX_NODES} values (aliases counted where they are used)`, { path: '(body)', limit: MAX_NODES });
    }
    if (v === null || typeof v !== 'object') continue;
    if (d + 1 > MAX_DEPTH) tooDeep(what);
    for (const x of Array.isArray(v) ? v : Object.values(v)) if (x !== null && typeof x === 'object') stack.push([x, d + 1]); else nodes++;
  }
}

/** A stack overflow inside a parser means the input nests too deep. */
export function isTooDeep(err: unknown): boolean {
  return err instanceof RangeError && /call stack/i.test(err.message);
}
export const refuseTooDeep = tooDeep;
