// The WebSocket hub (API.md §3) at GET /api/v1/ws: authenticates the upgrade (bearer header, a
// one-time ?ticket= from POST /ws-ticket, or the old ?token=; hashed lookup like the HTTP auth;
// 401/403 before any upgrade), keeps each client's
// subscriptions, forwards status changes from the bus (after commit, in order, optionally for one
// run and from a given event seq), hands log subscriptions to one JobTail per job, sends a heartbeat
// every few seconds, re-checks tokens then, and closes the sockets of a deleted token.
// Not here: reading logs (tail.ts), buffer caps (backpressure.ts), message shapes (protocol.ts).
import type { Server, ServerWebSocket, WebSocketHandler } from 'bun';
import { hashToken, allowed } from '../core/tokens.ts';
import { isoNow } from '../core/ids.ts';
import { jobMachine } from '../core/states/job.ts';
import type { CoreFacade } from '../core/facade.ts';
import type { Bus } from '../core/events.ts';
import type { Logger } from '../core/ports.ts';
import type { StatusEvent } from '../core/types.ts';
import { tokenFrom } from '../server/middleware/auth.ts';
import { errorBody } from '../server/errors.ts';
import { Conn, DEFAULT_LIMITS, type ConnData, type Limits } from './backpressure.ts';
import { JobTail, LogSub, type JobInfo } from './tail.ts';
import { ProtocolError, errorMessage, heartbeatMessage, parseOp, statusMessage, type ClientOp } from './protocol.ts';
import { registerHub } from './registry.ts';
import type { Tickets } from './tickets.ts';

export const WS_PATH = '/api/v1/ws';
const MAX_LOG_SUBS = 1000;
const MAX_STATUS_SUBS = 100;
const MAX_REPLAY = 20_000;

export interface HubOptions {
  core: CoreFacade; bus: Bus; log: Logger;
  heartbeatMs?: number; limits?: Partial<Limits>; tailFallbackMs?: number;
  /** one-time tickets (?ticket=), issued by POST /api/v1/ws-ticket */
  tickets?: Tickets;
}

type StatusSub = { run: string | null; group: string | null };
const matches = (s: StatusSub, e: StatusEvent) =>
  s.run === null || e.run_id === s.run || (e.kind === 'run' && e.id === s.run) || (e.kind === 'group' && e.id === s.group);

export function createHub(o: HubOptions) {
  const store = o.core.reads, access = o.core.access;
  const limits: Limits = { ...DEFAULT_LIMITS, ...o.limits };
  const heartbeatMs = o.heartbeatMs ?? (Number(process.env.DROVER_WS_HEARTBEAT_MS) || 5_000);
  const conns = new Set<Conn>();
  /** clients the server closed, by reason (slow_client, unauthorized): /metrics */
  const dropped: Record<string, number> = {};
  const statusConns = new Set<Conn>();
  const tails = new Map<string, JobTail>();
  const statusSeq = new WeakMap<Conn, number>();
  let timer: ReturnType<typeof setInterval> | null = null;
  let offBus: (() => void) | null = null;
  let offRegistry: (() => void) | null = null;

  function lookup(jobId: string): JobInfo | null {
    const j = store.getJob(jobId);
    if (!j) return null;
    const files = o.core.jobFiles(j); // null: its run or spec is gone (retention GC)
    return files && { ...files, attempt: j.attempt, terminal: jobMachine.isTerminal(j.status) };
  }

  const refuse = (status: 400 | 401 | 403, code: string, message: string) =>
    new Response(JSON.stringify(errorBody(code, message)), { status, headers: { 'content-type': 'application/json' } });

  function upgrade(req: Request, server: Server<ConnData>): Response | undefined {
    const url = new URL(req.url);
    const ticket = url.searchParams.get('ticket');
    let row;
    if (ticket !== null) {
      const grant = o.tickets?.redeem(ticket) ?? null;
      if (!grant) return refuse(401, 'unauthorized', 'invalid, expired or already used ticket (get a new one: POST /api/v1/ws-ticket)');
      row = access.tokenByHash(grant.tokenHash);
      if (!row) return refuse(401, 'unauthorized', 'the token this ticket was issued for no longer exists');
    } else {
      const token = tokenFrom(req.headers.get('authorization') ?? undefined, url.searchParams.get('token') ?? undefined);
      if (!token) return refuse(401, 'unauthorized', 'missing credentials (Authorization: Bearer <token>, or a one-time ?ticket= from POST /api/v1/ws-ticket)');
      row = access.tokenByHash(hashToken(token));
      if (!row) return refuse(401, 'unauthorized', 'invalid token');
    }
    if (!allowed(row.role, 'read')) return refuse(403, 'forbidden', `a '${row.role}' token may not read logs or status`);
    if (req.headers.get('upgrade')?.toLowerCase() !== 'websocket') return refuse(400, 'invalid_request', `${WS_PATH} expects a WebSocket upgrade`);
    if (server.upgrade(req, { data: { tokenId: row.id, tokenHash: row.hash } })) return undefined;
    return refuse(400, 'invalid_request', 'the WebSocket upgrade failed');
  }

  function dropLogSub(c: Conn, key: string): void {
    const sub = c.logSubs.get(key);
    if (!sub) return;
    c.logSubs.delete(key);
    const tail = tails.get(sub.job);
    if (!tail) return;
    tail.remove(sub);
    if (tail.subs.size === 0) { tail.dispose(); tails.delete(sub.job); }
  }

  function subscribeLogs(c: Conn, op: Extract<ClientOp, { channel: 'logs'; op: 'subscribe' }>): void {
    const key = op.command === null ? op.job : `${op.job}:${op.command}`;
    dropLogSub(c, key);
    if (c.logSubs.size >= MAX_LOG_SUBS) throw new ProtocolError('too_many_subscriptions', `at most ${MAX_LOG_SUBS} log subscriptions per connection`);
    const info = lookup(op.job);
    if (!info) throw new ProtocolError('not_found', `no job ${op.job}`);
    if (op.command !== null && op.command >= info.commandCount) throw new ProtocolError('not_found', `job ${op.job} has no command ${op.command} (it has ${info.commandCount})`);
    let tail = tails.get(op.job);
    if (!tail) tails.set(op.job, (tail = new JobTail(op.job, { lookup: () => lookup(op.job), fallbackMs: o.tailFallbackMs })));
    const sub = new LogSub(c, op.job, op.command, op.offset, op.binary);
    c.logSubs.set(key, sub);
    c.send(JSON.stringify({ type: 'subscribed', channel: 'logs', job: op.job, command: op.command, offset: op.offset, encoding: op.binary ? 'binary' : 'json' }));
    tail.add(sub);
  }

  function subscribeStatus(c: Conn, op: Extract<ClientOp, { channel: 'status'; op: 'subscribe' }>): void {
    const key = op.run ?? '*';
    if (!c.statusSubs.has(key) && c.statusSubs.size >= MAX_STATUS_SUBS) throw new ProtocolError('too_many_subscriptions', `at most ${MAX_STATUS_SUBS} status subscriptions per connection`);
    let group: string | null = null;
    if (op.run) {
      const run = store.getRun(op.run);
      if (!run) throw new ProtocolError('not_found', `no run ${op.run}`);
      group = run.group_id;
    }
    const sub: StatusSub = { run: op.run, group };
    c.statusSubs.set(key, sub);
    statusConns.add(c);
    c.send(JSON.stringify({ type: 'subscribed', channel: 'status', run: op.run, seq: store.lastEventSeq() }));
    if (op.since === null) return;
    let seq = op.since, sent = statusSeq.get(c) ?? 0;
    for (let n = 0; n < MAX_REPLAY; n += 1000) {
      const evs = store.eventsSince(seq, 1000);
      for (const e of evs) if (matches(sub, e) && c.send(statusMessage(e))) sent = Math.max(sent, e.seq);
      if (evs.length < 1000) break;
      seq = evs[evs.length - 1]!.seq;
      if (n + 1000 >= MAX_REPLAY) c.send(errorMessage('replay_truncated', `more than ${MAX_REPLAY} events since ${op.since}; read the rest from GET /api/v1/events?since=${seq}`));
    }
    statusSeq.set(c, sent);
  }

  function onMessage(c: Conn, raw: string | Buffer): void {
    try {
      const op = parseOp(raw);
      if (op.channel === 'logs') {
        if (op.op === 'subscribe') subscribeLogs(c, op);
        else dropLogSub(c, op.command === null ? op.job : `${op.job}:${op.command}`);
      } else if (op.op === 'subscribe') subscribeStatus(c, op);
      else {
        c.statusSubs.delete(op.run ?? '*');
        if (c.statusSubs.size === 0) statusConns.delete(c);
      }
    } catch (err) {
      if (!(err instanceof ProtocolError)) o.log.error('websocket message failed', { err: String(err) });
      const e = err instanceof ProtocolError ? err : new ProtocolError('internal', 'internal error; see the server log');
      c.send(errorMessage(e.code, e.message));
    }
  }

  function onStatus(e: StatusEvent): void {
    if (statusConns.size) {
      let msg: string | null = null;
      for (const c of statusConns) {
        if (e.seq <= (statusSeq.get(c) ?? 0)) continue;
        for (const s of c.statusSubs.values()) {
          if (!matches(s, e)) continue;
          c.send((msg ??= statusMessage(e)));
          break;
        }
        statusSeq.set(c, e.seq);
      }
    }
    if (e.kind === 'job') tails.get(e.id)?.onStatus(e.status);
  }

  function beat(): void {
    const msg = heartbeatMessage(isoNow());
    const now = Date.now();
    const valid = new Map<string, boolean>();
    for (const c of conns) {
      const h = c.ws.data.tokenHash;
      let ok = valid.get(h);
      if (ok === undefined) valid.set(h, (ok = access.tokenByHash(h) !== null));
      if (!ok) { c.kill('unauthorized', 'the token of this connection was deleted', 4001); continue; }
      c.checkStall(now);
      c.send(msg);
    }
  }

  function closeConn(c: Conn): void {
    c.closed = true;
    for (const key of [...c.logSubs.keys()]) dropLogSub(c, key);
    c.statusSubs.clear();
    statusConns.delete(c);
    conns.delete(c);
  }

  const websocket: WebSocketHandler<ConnData> = {
    maxPayloadLength: 64 * 1024,
    backpressureLimit: limits.hardCap * 2,
    closeOnBackpressureLimit: false,
    idleTimeout: 120,
    perMessageDeflate: false,
    open(ws: ServerWebSocket<ConnData>) {
      const c = new Conn(ws, limits, (code) => {
        dropped[code] = (dropped[code] ?? 0) + 1;
        o.log.warn('closing a websocket client', { code, token: ws.data.tokenId, queued: ws.getBufferedAmount() });
      });
      ws.data.conn = c;
      conns.add(c);
    },
    message(ws, raw) { const c = ws.data.conn; if (c && !c.closed) onMessage(c, raw); },
    drain(ws) {
      const c = ws.data.conn;
      if (!c || c.closed) return;
      c.noteDrain();
      for (const sub of c.logSubs.values()) tails.get(sub.job)?.pump(sub);
    },
    close(ws) { if (ws.data.conn) closeConn(ws.data.conn); },
    error(err: Error, ws: ServerWebSocket<ConnData>) { o.log.warn('websocket error', { err: String(err), token: ws.data.tokenId }); },
  } as WebSocketHandler<ConnData>;

  return {
    websocket,
    /** Wraps the app's fetch: the WebSocket path is answered here, everything else by the app. */
    fetch<S>(appFetch: (req: Request, server: S) => Response | Promise<Response>) {
      return (req: Request, server: S): Response | Promise<Response> | undefined => {
        const i = req.url.indexOf(WS_PATH);
        if (i > 0 && new URL(req.url).pathname === WS_PATH) return upgrade(req, server as unknown as Server<ConnData>);
        return appFetch(req, server);
      };
    },
    start(): void {
      offBus = o.bus.on('status', onStatus);
      offRegistry = registerHub({ closeToken });
      timer = setInterval(beat, heartbeatMs);
      timer.unref?.();
    },
    stop(): void {
      if (timer) clearInterval(timer);
      offBus?.(); offRegistry?.();
      for (const t of tails.values()) t.dispose();
      tails.clear();
      for (const c of [...conns]) { try { c.ws.close(1001, 'server shutting down'); } catch { /* gone */ } closeConn(c); }
    },
    closeToken,
    stats: () => ({ clients: conns.size, tails: tails.size, dropped: { ...dropped } }),
  };

  function closeToken(tokenId: string): void {
    for (const c of conns) if (c.tokenId === tokenId) c.kill('unauthorized', 'the token of this connection was deleted', 4001);
  }
}

export type Hub = ReturnType<typeof createHub>;
