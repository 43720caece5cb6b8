// Agent endpoints (role agent): POST /agents/claim (long-poll), and per job: heartbeat, raw log
// chunks by offset, complete. The broker in core/agents does the work; this file maps HTTP to it.
import { Hono } from 'hono';
import * as v from 'valibot';
import { DroverError } from '../../core/errors.ts';
import type { AgentBroker } from '../../core/agents/broker.ts';
import { readBody, check } from '../body.ts';

/** the most jobs one claim may ask for */
const MAX_CLAIM = 256;

const Claim = v.strictObject({
  agent: v.pipe(v.string(), v.minLength(1), v.maxLength(200)),
  pool: v.optional(v.string()),
  executors: v.optional(v.array(v.string()), ['agent']),
  resources: v.optional(v.strictObject({ cpus: v.optional(v.number()), gpus: v.optional(v.number()) })),
  wait_s: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(60)), 0),
  /** up to this many jobs at once; the answer is then {items: [...]} */
  max: v.optional(v.pipe(v.number(), v.integer('max: must be an integer'), v.minValue(1, 'max: at least 1'), v.maxValue(MAX_CLAIM, `max: at most ${MAX_CLAIM}`))),
  /** epoch ms when the agent's life ends: jobs whose resources.time does not fit are not handed out */
  until: v.optional(v.pipe(v.number(), v.integer('until: epoch milliseconds'), v.minValue(0, 'until: epoch milliseconds'))),
});
const Heartbeat = v.strictObject({ lease_token: v.string(), progress: v.optional(v.unknown()) });
const Seconds = v.pipe(v.number(), v.minValue(0), v.maxValue(1e9));

const Complete = v.strictObject({
  lease_token: v.string(),
  commands: v.array(v.strictObject({ exit_code: v.nullable(v.number()), started_at: v.optional(v.nullable(v.string())), ended_at: v.optional(v.nullable(v.string())) })),
  outputs: v.optional(v.record(v.string(), v.string())),
  /** the runner's CPU times (bash `times`): the agent job's CPU cost */
  cpu: v.optional(v.strictObject({ user: Seconds, sys: Seconds, children_user: Seconds, children_sys: Seconds })),
  /** each command's log size on the agent: a shorter stored log answers 409 log_incomplete with the stored sizes */
  logs: v.optional(v.array(v.pipe(v.number(), v.integer(), v.minValue(0)))),
  failure: v.optional(v.strictObject({ reason: v.picklist(['workspace_escape', 'unsafe_file']), message: v.pipe(v.string(), v.maxLength(4000)) })),
});

function intQuery(value: string | undefined, name: string): number {
  const n = Number(value);
  if (value === undefined || !Number.isInteger(n) || n < 0) throw new DroverError('invalid_request', `${name}: a non-negative integer is required`, { path: name });
  return n;
}

export function agentClaimRoutes(broker: AgentBroker) {
  return new Hono().post('/claim', async (c) => {
    const body = check(Claim, await readBody(c));
    if (body.max === undefined) {
      const got = await broker.claim(body);
      return got ? c.json(got) : c.body(null, 204);
    }
    const items = await broker.claimMany(body);
    return items.length ? c.json({ items }) : c.body(null, 204);
  });
}

export function agentJobRoutes(broker: AgentBroker) {
  return new Hono()
    .post('/:id/heartbeat', async (c) => {
      const body = check(Heartbeat, await readBody(c));
      return c.json(broker.heartbeat(c.req.param('id'), body.lease_token));
    })
    .post('/:id/logs', async (c) => {
      const token = c.req.header('x-lease-token') ?? '';
      const data = new Uint8Array(await c.req.arrayBuffer());
      return c.json(broker.appendLog(c.req.param('id'), token, intQuery(c.req.query('command'), 'command'), intQuery(c.req.query('offset'), 'offset'), data));
    })
    .post('/:id/complete', async (c) => {
      const body = check(Complete, await readBody(c));
      return c.json(broker.complete(c.req.param('id'), body));
    });
}
