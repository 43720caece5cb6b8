// One connected client and the limits on what the server holds for it. Log data goes out only
// while the socket's queue is under `logSoft` (the tail feeds a client that is behind from disk,
// on `drain`), so log streaming never grows the queue much; any other message past `hardCap`,
// or a queue that stays full with no progress for `stallMs`, gets the client an error
// (`slow_client`) and a close. A client that was cut off resumes from its last offset.
// Not here: what is sent (hub.ts, tail.ts).
import type { ServerWebSocket } from 'bun';
import { errorMessage } from './protocol.ts';
import type { LogSub, Sink } from './tail.ts';

export interface Limits {
  /** below this many queued bytes a client is sent more log data */
  logSoft: number;
  /** past this many queued bytes the client is closed */
  hardCap: number;
  /** a queue above logSoft/2 that has not shrunk for this long closes the client */
  stallMs: number;
}

export const DEFAULT_LIMITS: Limits = {
  logSoft: 512 * 1024,
  hardCap: 4 * 1024 * 1024,
  stallMs: Number(process.env.DROVER_WS_STALL_MS) || 10_000,
};

export interface ConnData { tokenId: string; tokenHash: string; conn?: Conn }

export class Conn implements Sink {
  closed = false;
  private lastQueued = 0;
  private stalledSince = 0;
  /** log subscriptions (key `job` or `job:command`) and status subscriptions (key run id or `*`) */
  readonly logSubs = new Map<string, LogSub>();
  readonly statusSubs = new Map<string, { run: string | null; group: string | null }>();

  constructor(readonly ws: ServerWebSocket<ConnData>, private readonly limits: Limits, private readonly onKill: (code: string) => void = () => {}) {}

  get tokenId() { return this.ws.data.tokenId; }
  queued(): number { return this.closed ? 0 : this.ws.getBufferedAmount(); }

  canTakeLog(): boolean { return !this.closed && this.ws.getBufferedAmount() < this.limits.logSoft; }

  /** Sends one message, or closes a client whose queue is past the cap. */
  send(text: string | Uint8Array): boolean {
    if (this.closed) return false;
    if (this.ws.getBufferedAmount() > this.limits.hardCap) {
      this.kill('slow_client', `the client reads too slowly: more than ${this.limits.hardCap} bytes queued; reconnect and resume from your last offset`);
      return false;
    }
    if (this.ws.send(text) === 0) {
      this.kill('slow_client', 'the server could not queue a message for this client; reconnect and resume from your last offset');
      return false;
    }
    return true;
  }

  /** Called every few seconds: a queue that stays full without shrinking means a client that does not read. */
  checkStall(now: number): void {
    if (this.closed) return;
    const q = this.ws.getBufferedAmount();
    if (q < this.limits.logSoft / 2 || q < this.lastQueued) this.stalledSince = 0;
    else if (this.stalledSince === 0) this.stalledSince = now;
    else if (now - this.stalledSince >= this.limits.stallMs) {
      this.kill('slow_client', `the client has not read for ${Math.round((now - this.stalledSince) / 1000)} s with ${q} bytes queued; reconnect and resume from your last offset`);
    }
    this.lastQueued = q;
  }

  noteDrain(): void { this.stalledSince = 0; this.lastQueued = 0; }

  /** Error message, close frame, and a hard close if the client does not answer it. */
  kill(code: string, message: string, closeCode = 4008): void {
    if (this.closed) return;
    this.closed = true;
    this.onKill(code);
    try {
      this.ws.send(errorMessage(code, message));
      this.ws.close(closeCode, code);
    } catch { /* already gone */ }
    const ws = this.ws;
    setTimeout(() => { try { ws.terminate(); } catch { /* closed */ } }, 2_000).unref?.();
  }
}
