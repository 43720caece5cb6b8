// The WebSocket protocol of API.md §3: what a client may send (parsed and checked here, once)
// and the messages the server sends (built here as JSON text, once per message, not per client).
// Not here: sockets, channels, tails (hub.ts, tail.ts).
//
// Client → server
//   {"op":"subscribe","channel":"logs","job":ID,"offset":B?,"command":N?,"encoding":"json"|"binary"?}
//   {"op":"subscribe","channel":"status","run":ID?,"since":SEQ?}     since: replay events after SEQ
//   {"op":"unsubscribe","channel":"logs","job":ID,"command":N?} / {"op":"unsubscribe","channel":"status","run":ID?}
// Server → client
//   {"type":"log","job","command","offset","bytes","data"}   bytes: length of `data` in the stored log (UTF-8)
//   with "encoding":"binary", log chunks come as binary frames instead: that same JSON header without
//   `data`, a newline, then the stored bytes as they are (byte-exact even for output that is not UTF-8,
//   and no JSON escaping: what the CLI uses)
//   {"type":"eof","job"(,"command")}  {"type":"status","seq","kind","id","status","at","run_id"}
//   {"type":"heartbeat","at"}  {"type":"error","code","message"}  {"type":"subscribed","channel",…} (an ack)
import { checkJsonDepth } from '../core/spec/depth.ts';

export type ClientOp =
  | { op: 'subscribe'; channel: 'logs'; job: string; offset: number; command: number | null; binary: boolean }
  | { op: 'unsubscribe'; channel: 'logs'; job: string; command: number | null }
  | { op: 'subscribe'; channel: 'status'; run: string | null; since: number | null }
  | { op: 'unsubscribe'; channel: 'status'; run: string | null };

export class ProtocolError extends Error {
  constructor(readonly code: string, message: string) { super(message); }
}

const ID = /^[a-z]_[A-Za-z0-9_-]{1,100}$/;

function optInt(v: unknown, name: string): number | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new ProtocolError('invalid_request', `${name}: must be a non-negative integer`);
  return v;
}

function optId(v: unknown, name: string, required = false): string | null {
  if ((v === undefined || v === null) && !required) return null;
  if (typeof v !== 'string' || !ID.test(v)) throw new ProtocolError('invalid_request', `${name}: must be an id like j_… or r_…`);
  return v;
}

/** One client message → a checked op; anything else is a ProtocolError (the connection stays open). */
export function parseOp(raw: string | Buffer): ClientOp {
  let m: unknown;
  const text = typeof raw === 'string' ? raw : raw.toString('utf8');
  try { checkJsonDepth(text, 'message'); } catch (e) { throw new ProtocolError('invalid_request', (e as Error).message); }
  try { m = JSON.parse(text); } catch { throw new ProtocolError('invalid_request', 'a message must be a JSON object'); }
  if (!m || typeof m !== 'object' || Array.isArray(m)) throw new ProtocolError('invalid_request', 'a message must be a JSON object');
  const o = m as Record<string, unknown>;
  if (o.op !== 'subscribe' && o.op !== 'unsubscribe') throw new ProtocolError('invalid_request', 'op: must be "subscribe" or "unsubscribe"');
  if (o.channel === 'logs') {
    const job = optId(o.job, 'job', true)!;
    const command = optInt(o.command, 'command');
    if (o.encoding !== undefined && o.encoding !== 'json' && o.encoding !== 'binary') throw new ProtocolError('invalid_request', 'encoding: must be "json" or "binary"');
    return o.op === 'subscribe'
      ? { op: 'subscribe', channel: 'logs', job, command, offset: optInt(o.offset, 'offset') ?? 0, binary: o.encoding === 'binary' }
      : { op: 'unsubscribe', channel: 'logs', job, command };
  }
  if (o.channel === 'status') {
    const run = optId(o.run, 'run');
    return o.op === 'subscribe' ? { op: 'subscribe', channel: 'status', run, since: optInt(o.since, 'since') } : { op: 'unsubscribe', channel: 'status', run };
  }
  throw new ProtocolError('invalid_request', 'channel: must be "logs" or "status"');
}

// ---- server messages ----

export const errorMessage = (code: string, message: string, extra: Record<string, unknown> = {}) => JSON.stringify({ type: 'error', code, message, ...extra });
export const heartbeatMessage = (at: string) => `{"type":"heartbeat","at":"${at}"}`;
export const eofMessage = (job: string, command: number | null) => (command === null ? `{"type":"eof","job":"${job}"}` : `{"type":"eof","job":"${job}","command":${command}}`);

/** Job ids are checked against ID before a tail exists, so they need no escaping. */
export function logMessage(job: string, command: number, offset: number, bytes: number, dataJson: string): string {
  return `{"type":"log","job":"${job}","command":${command},"offset":${offset},"bytes":${bytes},"data":${dataJson}}`;
}

/** The binary form: the header line, then the bytes untouched. */
export function logFrame(job: string, command: number, offset: number, data: Uint8Array): Uint8Array {
  const head = Buffer.from(`{"type":"log","job":"${job}","command":${command},"offset":${offset},"bytes":${data.length}}\n`);
  const out = Buffer.allocUnsafe(head.length + data.length);
  head.copy(out, 0);
  out.set(data, head.length);
  return out;
}

// Log text is mostly lines: when a newline is the only character that needs escaping (the usual
// case), replacing it is about twice as fast as JSON.stringify.
const NEEDS_MORE = /[\u0000-\u0009\u000b-\u001f"\\]/;
export const jsonString = (s: string): string => (NEEDS_MORE.test(s) ? JSON.stringify(s) : `"${s.replaceAll('\n', '\\n')}"`);

export interface StatusEventLike { seq: number; kind: string; id: string; status: string; at: string; run_id: string | null }
export const statusMessage = (e: StatusEventLike) =>
  JSON.stringify({ type: 'status', seq: e.seq, kind: e.kind, id: e.id, status: e.status, at: e.at, run_id: e.run_id });
