// /api/v1/pipelines: register (JSON or YAML body; a new version only when the spec changed), list, show
// (with its triggers: the schedule's next fire times and last fire, event deliveries, webhook, cost).
import { Hono } from 'hono';
import { DroverError, isStorageError } from '../../core/errors.ts';
import { validateSpec } from '../../core/spec/index.ts';
import { pipelineVersionFor, specHash } from '../../core/submit.ts';
import { isoNow } from '../../core/ids.ts';
import { checkSchedule, type TriggerService } from '../../core/triggers/index.ts';
import { readBody } from '../body.ts';
import type { ServerDeps } from '../deps.ts';

export function pipelinesRoutes(d: ServerDeps, triggers?: TriggerService) {
  const store = d.core.pipelines;
  return new Hono()
    .post('/', async (c) => {
      const raw = await readBody(c, { yaml: true });
      const spec = validateSpec(raw, d.core.validateOptions());
      checkSchedule(spec);
      const { version, isNew } = pipelineVersionFor(store, spec.name, raw);
      if (isNew) {
        try { store.pipelineInsert({ name: spec.name, version, spec: JSON.stringify(raw), spec_hash: specHash(raw), created_at: isoNow() }); }
        catch (err) { if (isStorageError(err)) throw new DroverError('storage_unavailable', `storage unavailable while registering the pipeline: ${(err as Error).message}`); throw err; }
      }
      if (isNew) triggers?.poke();
      return c.json({ name: spec.name, version, created: isNew }, isNew ? 201 : 200);
    })
    .get('/', (c) => c.json({ items: store.pipelinesList(), next_cursor: null }))
    .get('/:name', (c) => {
      const name = c.req.param('name');
      const latest = store.pipelineLatest(name);
      if (!latest) throw new DroverError('not_found', `no pipeline named '${name}'`);
      return c.json({ name, version: latest.version, spec: JSON.parse(latest.spec), created_at: latest.created_at, versions: store.pipelineVersions(name), ...d.core.pipelineTriggers(name) });
    });
}
