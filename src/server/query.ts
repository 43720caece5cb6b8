// Query parameters, checked like bodies: a value that is not what the parameter takes is a 400
// invalid_request naming the parameter, never silently replaced by a default.
import { DroverError } from '../core/errors.ts';

const bad = (name: string, want: string, got: string): never => {
  throw new DroverError('invalid_request', `${name}: must be ${want} (got '${got}')`, { path: name });
};

/** A non-negative integer; null when absent or empty. */
export function intParam(q: string | undefined, name: string): number | null {
  if (q === undefined || q === '') return null;
  if (!/^\d{1,15}$/.test(q)) bad(name, 'a non-negative integer', q);
  return Number(q);
}

/** A page size: 1..max (default when absent). */
export function limitOf(q: string | undefined, dflt = 50, max = 1000): number {
  const n = intParam(q, 'limit');
  if (n === null) return dflt;
  if (n < 1 || n > max) bad('limit', `an integer from 1 to ${max}`, q!);
  return n;
}

/** A cursor as the list answered it in `next_cursor` (a sequence number). */
export function cursorOf(q: string | undefined, name = 'cursor'): number | null {
  if (q === undefined || q === '') return null;
  if (!/^\d{1,15}$/.test(q)) bad(name, "a next_cursor value from a previous page", q);
  return Number(q);
}

/** One of a closed set (a status filter). */
export function oneOf<T extends string>(q: string | undefined, name: string, allowed: readonly T[]): T | undefined {
  if (q === undefined || q === '') return undefined;
  if (!(allowed as readonly string[]).includes(q)) bad(name, `one of ${allowed.join(', ')}`, q);
  return q as T;
}

/** A flag: true/1/(empty) or false/0; `dflt` when absent. */
export function boolParam(q: string | undefined, name: string, dflt = false): boolean {
  if (q === undefined) return dflt;
  if (q === 'true' || q === '1' || q === '') return true;
  if (q === 'false' || q === '0') return false;
  return bad(name, 'true or false', q);
}
