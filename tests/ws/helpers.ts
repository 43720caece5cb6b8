// WebSocket test client on the `ws` package (an independent implementation of the protocol),
// against a real `drover serve` (tests/helpers/server.ts).
import { resolve } from 'node:path';
import type WebSocketType from 'ws';
import { afterEach } from 'bun:test';
import { oneStage, startServer, type TestServer } from '../helpers/server.ts';

// Bun answers `import 'ws'` with its own built-in client; these tests want the real `ws` package
// (an independent implementation, with a real net.Socket that can stop reading), so it is loaded by path.
type WebSocket = WebSocketType;
const WebSocket: typeof WebSocketType = require(resolve(import.meta.dir, '../../node_modules/ws/index.js'));

export const wsUrl = (s: TestServer, query = '') => s.url.replace(/^http/, 'ws') + '/api/v1/ws' + query;

/** A binary log frame (encoding: binary): a JSON header line, then the raw bytes (as `raw`). */
export function parseFrame(m: Buffer): any {
  const nl = m.indexOf(10);
  return { ...JSON.parse(m.subarray(0, nl).toString()), raw: Buffer.from(m.subarray(nl + 1)) };
}

export class WsClient {
  readonly msgs: any[] = [];
  closed: { code: number; reason: string } | null = null;
  private waiters: (() => void)[] = [];
  constructor(readonly ws: WebSocket) {
    ws.on('message', (m: Buffer, isBinary: boolean) => { this.msgs.push(isBinary ? parseFrame(m) : JSON.parse(m.toString())); this.wake(); });
    ws.on('close', (code, reason) => { this.closed = { code, reason: reason.toString() }; this.wake(); });
  }
  private wake() { for (const w of this.waiters.splice(0)) w(); }

  /** Opens a connection with the server's admin token (header), another token, `?token=`, a raw query (`?ticket=`), or none. */
  static open(s: TestServer, opts: { token?: string | null; via?: 'header' | 'query'; query?: string } = {}): Promise<WsClient> {
    const token = opts.token === undefined ? s.token : opts.token;
    const query = opts.query ?? (token && opts.via === 'query' ? `?token=${encodeURIComponent(token)}` : '');
    const headers: Record<string, string> = token && opts.via !== 'query' ? { authorization: `Bearer ${token}` } : {};
    const ws = new WebSocket(wsUrl(s, query), { headers, perMessageDeflate: false });
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(new WsClient(ws)));
      ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { status: res.statusCode })));
      ws.once('error', reject);
    });
  }

  send(o: object) { this.ws.send(JSON.stringify(o)); }

  /** Waits until some message (from index `from`) matches; returns it. */
  async waitFor(pred: (m: any) => boolean, { timeoutMs = 20_000, from = 0, what = 'a message' } = {}): Promise<any> {
    const end = Date.now() + timeoutMs;
    for (let i = from; ;) {
      for (; i < this.msgs.length; i++) if (pred(this.msgs[i])) return this.msgs[i];
      if (this.closed) throw new Error(`connection closed (${this.closed.code} ${this.closed.reason}) while waiting for ${what}`);
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}; got ${this.msgs.length} messages, last ${JSON.stringify(this.msgs.at(-1))?.slice(0, 300)}`);
      await new Promise<void>((r) => { const t = setTimeout(r, 200); this.waiters.push(() => { clearTimeout(t); r(); }); });
    }
  }

  waitClosed(timeoutMs = 20_000): Promise<{ code: number; reason: string }> {
    return new Promise((resolve, reject) => {
      if (this.closed) return resolve(this.closed);
      const t = setTimeout(() => reject(new Error('the server did not close the connection')), timeoutMs);
      this.ws.once('close', (code, reason) => { clearTimeout(t); resolve({ code, reason: reason.toString() }); });
    });
  }

  close() { try { this.ws.terminate(); } catch { /* closed */ } }
}

/** Log messages of one job (optionally one command) joined in arrival order, checking that offsets are contiguous. */
export function joinLog(msgs: any[], job: string, start = 0): { bytes: Buffer; end: number } {
  const parts: Buffer[] = [];
  let end = start;
  for (const m of msgs) {
    if (m.type !== 'log' || m.job !== job) continue;
    const b = Buffer.from(m.data, 'utf8');
    if (m.offset !== end) throw new Error(`offset gap or overlap: expected ${end}, got ${m.offset}`);
    if (m.bytes !== b.length) throw new Error(`bytes ${m.bytes} but data is ${b.length} bytes`);
    parts.push(b);
    end += b.length;
  }
  return { bytes: Buffer.concat(parts), end };
}

export async function storedLog(s: TestServer, job: string, command?: number): Promise<Buffer> {
  const res = await fetch(`${s.url}/api/v1/jobs/${job}/logs${command === undefined ? '' : `?command=${command}`}`, { headers: { authorization: `Bearer ${s.token}` } });
  if (!res.ok) throw new Error(`GET logs: ${res.status}`);
  return Buffer.from(await res.arrayBuffer());
}

export function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(require('node:fs').readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

/** The first job id of a submitted single run. */
export const firstJob = (out: any): string => out.run.stages[0].jobs[0].id;

/** Starts a new server on the same data dir AND the same port as `s` (which must be stopped): same URL for clients. */
export async function restartSamePort(s: TestServer, extraArgs: string[] = []): Promise<TestServer> {
  const { TestServer: TS } = await import('../helpers/server.ts');
  const port = new URL(s.url).port;
  const deadline = Date.now() + 10_000;
  for (;;) {
    try { return await new TS(s.root, s.dataDir, [...s.args, ...extraArgs, '--port', port]).start(); } catch (e) {
      if (Date.now() > deadline) throw e; // the port may take a moment to be free again
      await Bun.sleep(200);
    }
  }
}

/** A server on a random port below the ephemeral range (20000–29999), so that while it is down for
 *  a restart test no other process handed port 0 by the kernel can take its port meanwhile. */
export async function startServerLowPort(args: string[] = []): Promise<TestServer> {
  const { startServer } = await import('../helpers/server.ts');
  for (let tries = 0; ; tries++) {
    const port = 20000 + Math.floor(Math.random() * 10000);
    try { return await startServer([...args, '--port', String(port)]); } catch (e) { if (tries >= 20) throw e; }
  }
}

/**
 * Submits a one-job run whose command waits for a gate file first, so subscribers can be in place
 * before the output starts; `open()` lets it go.
 */
export async function gatedJob(s: TestServer, name: string, command: string): Promise<{ run: string; job: string; open: () => Promise<number> }> {
  const gate = `${s.root}/go-${name}`;
  const out = await s.submit(oneStage(name, [`while [ ! -e ${gate} ]; do sleep 0.02; done`, command], { workspace: s.root }));
  return { run: out.run.id, job: firstJob(out), open: () => Bun.write(gate, '') };
}

/** Servers and clients a test file opens, closed after each test. */
export function wsFixture() {
  let servers: TestServer[] = [];
  let clients: WsClient[] = [];
  afterEach(async () => {
    for (const c of clients) c.close();
    for (const s of servers) await s.stop();
    servers = []; clients = [];
  });
  return {
    async server(): Promise<TestServer> { const s = await startServer(); servers.push(s); return s; },
    async clients(s: TestServer, n: number): Promise<WsClient[]> {
      const opened = await Promise.all(Array.from({ length: n }, () => WsClient.open(s)));
      clients.push(...opened);
      return opened;
    },
  };
}
