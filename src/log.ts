// Logger implementation: one JSON line per entry on stderr, with scoped fields. The interface
// lives in core/ports.ts; tests and libraries can use noopLogger.
import type { Logger } from './core/ports.ts';

export function jsonLogger(fields: Record<string, unknown> = {}, write = (s: string) => process.stderr.write(s)): Logger {
  const emit = (level: string, msg: string, data?: Record<string, unknown>) =>
    write(JSON.stringify({ at: new Date().toISOString(), level, msg, ...fields, ...data }) + '\n');
  return {
    info: (m, d) => emit('info', m, d),
    warn: (m, d) => emit('warn', m, d),
    error: (m, d) => emit('error', m, d),
    scope: (f) => jsonLogger({ ...fields, ...f }, write),
  };
}

export const noopLogger: Logger = { info() {}, warn() {}, error() {}, scope: () => noopLogger };
