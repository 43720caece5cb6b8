// The daily retention GC: a croner timer (default 03:17 local time) that runs one GC pass; a failure
// is logged and the next day tries again.
import { Cron } from 'croner';
import type { Logger } from '../ports.ts';
import type { GarbageCollector } from './collector.ts';

export const DEFAULT_GC_CRON = '17 3 * * *';

export function scheduleGc(gc: GarbageCollector, log: Logger, pattern = DEFAULT_GC_CRON): { stop(): void } {
  const job = new Cron(pattern, { protect: true, unref: true }, async () => {
    try { await gc.run({ dryRun: false }); } catch (err) { log.error('daily gc failed', { err: String(err) }); }
  });
  return { stop: () => job.stop() };
}
