// /api/v1/gc (admin): POST /?dry_run=true|false runs retention GC now and answers its report (runs and
// bytes freed, or that would be); a real run is recorded in the audit log.
import { Hono } from 'hono';
import { boolParam } from '../query.ts';
import type { GarbageCollector } from '../../core/gc/collector.ts';
import type { AuditRepo } from '../../core/secrets/types.ts';
import { audit } from '../audit.ts';

export function gcRoutes(gc: GarbageCollector, auditRepo?: AuditRepo) {
  return new Hono().post('/', async (c) => {
    const dryRun = boolParam(c.req.query('dry_run'), 'dry_run');
    const report = await gc.run({ dryRun });
    audit(auditRepo, c, 'gc', null, { dry_run: dryRun, runs_removed: report.runs_removed, bytes_freed: report.bytes_freed });
    return c.json(report);
  });
}
