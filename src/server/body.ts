// Request bodies: JSON (or YAML for specs) parsed with errors that name the problem, and
// validated with valibot schemas whose failures become 400 invalid_request naming the field.
import type { Context } from 'hono';
import * as v from 'valibot';
import { DroverError } from '../core/errors.ts';
import { parseSpecText } from '../core/spec/index.ts';
import { checkJsonDepth } from '../core/spec/depth.ts';

export async function readBody(c: Context, { yaml = false, optional = false } = {}): Promise<unknown> {
  const text = await c.req.text();
  if (!text.trim()) {
    if (optional) return {};
    throw new DroverError('invalid_json', 'request body is empty; expected JSON');
  }
  if (yaml) return parseSpecText(text);
  checkJsonDepth(text);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new DroverError('invalid_json', `request body is not valid JSON: ${(err as Error).message}`);
  }
}

export function check<S extends v.GenericSchema>(schema: S, value: unknown): v.InferOutput<S> {
  const r = v.safeParse(schema, value);
  if (r.success) return r.output;
  const issue = r.issues[0];
  const path = issue.path?.map((p: { key: unknown }) => String(p.key)).join('.') || '(body)';
  throw new DroverError('invalid_request', `${path}: ${issue.message}`, { path, issues: r.issues.map((i) => i.message) });
}
