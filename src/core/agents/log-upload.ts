// Agent log uploads: a chunk lands at its byte offset (a resend is stored once; a chunk past the
// stored end is a 409 log_gap), and the job's stored log stops at --max-log-size with the same marker
// line a local job gets. Past the cap, chunks are acknowledged and dropped, so the agent's own offsets
// keep moving and it never retries a chunk the server will not keep.
import { openSync, closeSync, fstatSync, existsSync, writeFileSync, constants } from 'node:fs';
import { join } from 'node:path';
import { DroverError } from '../errors.ts';
import { capMarker, writeAll } from '../redact/copier.ts';
import { fileSize } from '../../runner/meta.ts';

const CAPPED = '.log-capped';

/**
 * A completion is accepted only once the stored log is complete: `sizes` is each command's log as the
 * agent has it. Returns the stored sizes when any is shorter (the agent re-sends from there), else null.
 * A capped log (--max-log-size) is complete by definition: the rest was dropped on purpose.
 */
export function logShortfall(dir: string, commandCount: number, sizes: readonly number[] | undefined, maxLogSize: number | null): number[] | null {
  if (!sizes) return null;
  if (maxLogSize !== null && existsSync(join(dir, CAPPED))) return null;
  const stored = Array.from({ length: commandCount }, (_, i) => fileSize(join(dir, 'logs', `${i}.log`)));
  return stored.some((n, i) => n < (sizes[i] ?? 0)) ? stored : null;
}

export function appendChunk(dir: string, command: number, commandCount: number, offset: number, data: Uint8Array, maxLogSize: number | null): { size: number; capped?: true } {
  if (maxLogSize !== null && existsSync(join(dir, CAPPED))) return { size: offset + data.length, capped: true };
  const fd = openSync(join(dir, 'logs', `${command}.log`), constants.O_RDWR | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
  try {
    const size = fstatSync(fd).size;
    if (offset > size) throw new DroverError('conflict', `offset ${offset} is past the stored ${size} bytes; resend from ${size}`, { code: 'log_gap', size });
    const fresh = data.subarray(Math.min(data.length, size - offset));
    if (fresh.length === 0) return { size };
    if (maxLogSize !== null) {
      let total = 0;
      for (let i = 0; i < commandCount; i++) total += i === command ? size : fileSize(join(dir, 'logs', `${i}.log`));
      if (total + fresh.length > maxLogSize) {
        writeAll(fd, fresh.subarray(0, Math.max(0, maxLogSize - total)));
        writeAll(fd, capMarker(maxLogSize));
        writeFileSync(join(dir, CAPPED), '', { mode: 0o600 });
        return { size: offset + data.length, capped: true };
      }
    }
    writeAll(fd, fresh);
    return { size: offset + data.length };
  } finally {
    closeSync(fd);
  }
}
