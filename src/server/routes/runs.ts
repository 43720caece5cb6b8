// /api/v1/runs: submit (dry-run, Idempotency-Key), list (filters; collapse=group: one row per group), show, cancel, retry, graph.
import { Hono } from 'hono';
import * as v from 'valibot';
import { createHash } from 'node:crypto';
import { DroverError } from '../../core/errors.ts';
import { JsonParts } from '../../core/json-parts.ts';
import { runSummary } from '../../core/views.ts';
import { renderGraph } from '../graph.ts';
import { readBody, check } from '../body.ts';
import { limitOf, cursorOf, type ServerDeps } from '../deps.ts';
import { audit } from '../audit.ts';
import { AnswerCache } from '../answer-cache.ts';
import { boolParam, oneOf } from '../query.ts';
import { RUN_STATUSES } from '../../core/states/index.ts';

const TRIGGER_KINDS = ['manual', 'api', 'sweep', 'schedule', 'event', 'webhook'] as const;

const SubmitBody = v.strictObject({
  spec: v.optional(v.unknown()),
  pipeline: v.optional(v.string()),
  params: v.optional(v.record(v.string(), v.unknown())),
  priority: v.optional(v.pipe(v.number(), v.integer())),
});

/** The parts as a byte stream, each encoded only when the client is ready for it, and let go once sent. */
function streamOf(parts: string[]): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  let i = 0;
  return new ReadableStream({
    pull(ctl) {
      if (i === parts.length) { ctl.close(); return; }
      ctl.enqueue(enc.encode(parts[i]!));
      parts[i++] = ''; // (sent: its memory may go)
    },
  });
}

export function runsRoutes(d: ServerDeps) {
  const core = d.core;
  const answers = new AnswerCache(() => core.reads.writeMark());
  const get = (id: string) => {
    const r = core.reads.getRun(id);
    if (!r) throw new DroverError('not_found', `no run ${id}`);
    return r;
  };
  return new Hono()
    .post('/', async (c) => {
      const raw = await readBody(c);
      const body = check(SubmitBody, raw);
      const key = c.req.header('idempotency-key') ?? undefined;
      const bodyHash = createHash('sha256').update(JSON.stringify(raw)).digest('hex');
      const dryRun = boolParam(c.req.query('dry_run'), 'dry_run');
      // the CLI names itself (user-agent drover-cli): its runs are 'manual'; a script's are 'api'
      const manual = (c.req.header('user-agent') ?? '').startsWith('drover-cli');
      const trigger = manual ? { kind: 'manual' as const } : body.spec === undefined ? { kind: 'api' as const } : undefined;
      const out = core.submit({ ...body, trigger }, { dryRun, idempotencyKey: key, bodyHash, parts: true });
      const made = (out.body instanceof JsonParts ? out.body.about : out.body) as { run?: { id: string }; group?: { id: string } };
      if (!dryRun && !out.replayed) audit(d.audit, c, 'submit', made.run?.id ?? made.group?.id ?? null, { pipeline: (made.run as { pipeline?: string } | undefined)?.pipeline ?? (made.group as { pipeline?: string } | undefined)?.pipeline });
      // a big answer (100,000 runs or jobs) is streamed in its parts, never joined into one string
      if (out.body instanceof JsonParts) return c.body(streamOf(out.body.parts), 201, { 'content-type': 'application/json' });
      return c.json(out.body as object, dryRun || out.replayed ? 200 : 201);
    })
    .get('/', (c) => {
      // the same query answers the same until the next write (answer-cache.ts): the list page and
      // scripts poll it, and building it (rows, JSON of params and triggers, group counts) is the cost
      const q = c.req.url.indexOf('?');
      const body = answers.get(q < 0 ? '' : c.req.url.slice(q), () => {
        const collapse = oneOf(c.req.query('collapse'), 'collapse', ['group'] as const) === 'group';
        const page = core.reads.listRuns({
          limit: limitOf(c.req.query('limit')), cursor: cursorOf(c.req.query('cursor')), status: oneOf(c.req.query('status'), 'status', RUN_STATUSES),
          pipeline: c.req.query('pipeline'), group_id: c.req.query('group'), trigger: oneOf(c.req.query('trigger'), 'trigger', TRIGGER_KINDS), collapse,
        });
        // collapsed: a run that stands for a group of several runs carries that group (counts per status)
        const items = page.items.map((r) => {
          const g = collapse ? core.reads.getGroup(r.group_id) : null;
          return g && g.total > 1 ? { ...runSummary(r), group: core.groupView(g) } : runSummary(r);
        });
        return JSON.stringify({ items, next_cursor: page.next_cursor === null ? null : String(page.next_cursor) });
      });
      return c.body(body, 200, { 'content-type': 'application/json' });
    })
    .get('/:id', (c) => c.json({ ...core.runView(get(c.req.param('id'))), cost: core.costOfRun(c.req.param('id')) }))
    .post('/:id/cancel', (c) => { get(c.req.param('id')); const out = core.cancelRun(c.req.param('id')); audit(d.audit, c, 'cancel', c.req.param('id')); return c.json(out); })
    .post('/:id/retry', (c) => { get(c.req.param('id')); const out = core.retryRun(c.req.param('id')); audit(d.audit, c, 'retry', c.req.param('id')); return c.json(out); })
    .get('/:id/graph', (c) => {
      const run = get(c.req.param('id'));
      const format = c.req.query('format') ?? 'json';
      if (!['json', 'dot', 'mermaid'].includes(format)) throw new DroverError('invalid_request', `format: must be json, dot or mermaid (got '${format}')`, { path: 'format' });
      const g = renderGraph(core.reads.stagesOfRun(run.id), core.reads.jobsOfRun(run.id), format as 'json');
      return typeof g === 'string' ? c.text(g) : c.json(g);
    });
}
