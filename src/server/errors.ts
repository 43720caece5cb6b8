// The one place errors become HTTP answers: {error:{code,message,details}}. A DroverError keeps
// its code and status; a storage failure is 503; anything unknown is logged and becomes 500 internal.
import type { Context } from 'hono';
import { DroverError, isStorageError } from '../core/errors.ts';
import type { Logger } from '../core/ports.ts';

export function errorBody(code: string, message: string, details: Record<string, unknown> = {}) {
  return { error: { code, message, details } };
}

export function onError(log: Logger) {
  return (err: Error, c: Context) => {
    if (err instanceof DroverError) return c.json(errorBody(err.code, err.message, err.details), err.status as never);
    if (isStorageError(err)) {
      return c.json(errorBody('storage_unavailable', `storage unavailable: ${err.message} (reads still work; retry once the disk has space or is writable)`), 503);
    }
    const status = (err as { status?: number }).status;
    if (status === 413) return c.json(errorBody('payload_too_large', 'request body is larger than the limit (--max-body)'), 413);
    const requestId = c.get('requestId' as never) as string | undefined;
    log.error('internal error', { err: String(err), stack: err.stack, path: c.req.path, requestId });
    return c.json(errorBody('internal', `internal error (request ${requestId ?? '?'}); see the server log`), 500);
  };
}
