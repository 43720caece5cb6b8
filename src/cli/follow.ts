// Live log following over the WebSocket (API.md §3) for `logs -f` and `submit --follow`: one
// connection, one subscription per job from its last byte offset. When the connection drops (the
// server restarts, the network hiccups, the server cuts a slow reader) it reconnects on its own and
// resumes from the last offset, so the output has no gap and no duplicate. It ends once every
// followed log is final (`eof`); the caller then reads the job or run status for the exit code.
// Log chunks come as binary frames (a JSON header line, then the stored bytes untouched), so what
// is printed is byte for byte the stored log, whatever the job wrote. A server without the
// WebSocket endpoint (an older drover) is followed by offset-based HTTP polling instead.
import { CliError } from './args.ts';
import { sleep } from './command.ts';
import { HttpError, type Client } from './client.ts';
import { isTerminal, type Job, type Run } from './types.ts';

export type Write = (chunk: string | Uint8Array) => void;
const stdoutWrite: Write = (c) => void process.stdout.write(c);

const GIVE_UP_MS = 120_000;  // no connection for this long: stop with exit 2
const SILENCE_MS = 20_000;   // no message at all (heartbeats come every few seconds): reconnect

/** Splits a stream into lines and writes each as `[label] line`; keeps the unfinished tail. */
export class LinePrefixer {
  private decoder = new TextDecoder();
  private partial = '';
  constructor(private readonly label: string, private readonly write: Write) {}
  push(chunk: Uint8Array | string) {
    const text = typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true });
    const lines = (this.partial + text).split('\n');
    this.partial = lines.pop()!;
    if (lines.length) this.write(lines.map((l) => `[${this.label}] ${l}\n`).join(''));
  }
  flush() {
    const rest = this.partial + this.decoder.decode();
    this.partial = '';
    if (rest) this.write(`[${this.label}] ${rest}\n`);
  }
}

/** One followed log: where it is, and where its bytes go. */
export interface Target { job: string; command?: number; offset: number; done: boolean; prefix?: LinePrefixer }

interface LogMsg { type: string; job?: string; command?: number; offset?: number; bytes?: number; data?: string | Uint8Array; code?: string; message?: string }

/** A binary log frame: `{header}\n` then the bytes. */
function parseFrame(buf: ArrayBuffer): LogMsg {
  const bytes = new Uint8Array(buf);
  const nl = bytes.indexOf(10);
  const m = JSON.parse(new TextDecoder().decode(bytes.subarray(0, nl))) as LogMsg;
  m.data = bytes.subarray(nl + 1);
  return m;
}

/** Bun's WebSocket client, which can send an Authorization header (the DOM typing cannot say so). */
const BunWebSocket = WebSocket as unknown as new (url: string, opts: { headers: Record<string, string> }) => WebSocket;

function wsUrl(client: Client): string {
  return client.url('/ws').replace(/^http/, 'ws');
}

/** One connection: subscribes every unfinished target, writes what arrives; resolves when all are
 *  done (true) or the connection is lost (false). */
function session(client: Client, targets: Target[], write: Write, onOpen: () => void): Promise<boolean> {
  return new Promise((resolve) => {
    const headers: Record<string, string> = client.conn.token ? { authorization: `Bearer ${client.conn.token}` } : {};
    const ws = new BunWebSocket(wsUrl(client), { headers });
    const byJob = new Map(targets.map((t) => [t.job, t]));
    let silence: ReturnType<typeof setTimeout> | undefined;
    const quiet = () => { clearTimeout(silence); silence = setTimeout(() => ws.close(), SILENCE_MS); };
    const finish = (ok: boolean) => { clearTimeout(silence); resolve(ok); };
    ws.binaryType = 'arraybuffer';
    const subscribe = (t: Target) => ws.send(JSON.stringify({ op: 'subscribe', channel: 'logs', job: t.job, offset: t.offset, command: t.command, encoding: 'binary' }));
    ws.onopen = () => { onOpen(); quiet(); for (const t of targets) if (!t.done) subscribe(t); };
    ws.onmessage = (ev) => {
      quiet();
      const m = typeof ev.data === 'string' ? (JSON.parse(ev.data) as LogMsg) : parseFrame(ev.data as ArrayBuffer);
      const t = m.job ? byJob.get(m.job) : undefined;
      if (m.type === 'log' && t && !t.done) {
        const bytes = typeof m.data === 'string' ? Buffer.from(m.data) : m.data!;
        const off = m.offset!, n = bytes.length;
        if (off + n <= t.offset) return; // had it already
        if (off > t.offset) { subscribe(t); return; } // a gap: ask again from where we are
        const data = off < t.offset ? bytes.subarray(t.offset - off) : bytes; // overlap: keep the new part
        if (t.prefix) t.prefix.push(data); else write(data);
        t.offset = off + n;
      } else if (m.type === 'eof' && t) {
        t.done = true;
        t.prefix?.flush();
        if (targets.every((x) => x.done)) { ws.close(); finish(true); }
      } else if (m.type === 'error' && m.code === 'log_restarted' && t) {
        t.prefix?.flush();
        t.offset = 0;
        process.stderr.write(`drover: ${m.message}\n`);
      } else if (m.type === 'error' && m.code !== 'slow_client') {
        process.stderr.write(`drover: ${m.code}: ${m.message}\n`);
      }
    };
    ws.onclose = () => finish(targets.every((x) => x.done));
    ws.onerror = () => { /* onclose follows */ };
  });
}

/** Follows the targets to their ends, reconnecting (from the last offsets) as long as the server can
 *  be reached. False when the server has no WebSocket endpoint (an older drover): poll instead. */
export async function streamLogs(client: Client, targets: Target[], opts: { write?: Write; probe: () => Promise<unknown> }): Promise<boolean> {
  const write = opts.write ?? stdoutWrite;
  let lastOpen = Date.now(), delay = 250, warned = false, opened = false;
  const onOpen = () => { lastOpen = Date.now(); delay = 250; opened = true; if (warned) process.stderr.write('drover: reconnected\n'); warned = false; };
  for (;;) {
    if (await session(client, targets, write, onOpen)) return true;
    // lost: a refused token or a vanished job ends here (exit 2); an unreachable server is retried
    try { await opts.probe(); } catch (e) {
      if (e instanceof HttpError || !(e instanceof CliError)) throw e;
      if (Date.now() - lastOpen > GIVE_UP_MS) throw e;
    }
    if (!opened && !(await wsSupported(client))) return false;
    if (!warned) { process.stderr.write('drover: lost the connection to the server; reconnecting…\n'); warned = true; }
    await sleep(delay);
    delay = Math.min(delay * 2, 2000);
  }
}

/** Our server answers a plain GET of /ws with 400 (not an upgrade); one without the endpoint with 404. */
async function wsSupported(client: Client): Promise<boolean> {
  try { await client.get('/ws'); return true; } catch (e) { return !(e instanceof HttpError && e.status === 404); }
}

// ---- the fallback: offset-based polling over HTTP (GET /jobs/:id/logs?offset=B) ----

async function drainHttp(client: Client, t: Target, write: Write): Promise<void> {
  for (let i = 0; i < 10_000; i++) {
    let res;
    try {
      res = await client.text(`/jobs/${t.job}/logs`, { command: t.command, offset: t.offset });
    } catch (e) {
      if (e instanceof HttpError && e.status === 404) return; // no log yet
      throw e;
    }
    const size = res.headers.has('x-log-size') ? Number(res.headers.get('x-log-size')) : t.offset + res.bytes.length;
    if (size < t.offset) { t.offset = 0; continue; } // a new attempt replaced the log
    if (res.bytes.length === 0) return;
    if (t.prefix) t.prefix.push(res.bytes); else write(res.bytes);
    t.offset += res.bytes.length;
    if (t.offset >= size) return;
  }
}

async function pollLogs(client: Client, targets: Target[], write: Write, finished: () => Promise<boolean>): Promise<void> {
  for (;;) {
    const fin = await finished(); // status first: if final, the drain below reads everything
    for (const t of targets) await drainHttp(client, t, write);
    if (fin) { for (const t of targets) { t.prefix?.flush(); t.done = true; } return; }
    await sleep(250);
  }
}

/** `logs -f`: prints the log live until the job is terminal and its log fully printed. */
export async function followLog(client: Client, jobId: string, opts: { command?: number; write?: Write } = {}): Promise<Job> {
  const probe = () => client.get<Job>(`/jobs/${jobId}`);
  await probe(); // a clear 404 / 401 before anything else
  const targets: Target[] = [{ job: jobId, command: opts.command, offset: 0, done: false }];
  if (!(await streamLogs(client, targets, { write: opts.write, probe }))) {
    await pollLogs(client, targets, opts.write ?? stdoutWrite, async () => isTerminal((await probe()).status));
  }
  return waitTerminal(() => client.get<Job>(`/jobs/${jobId}`));
}

/** Reads until terminal: right after the last eof the roll-up may still be one commit away. */
async function waitTerminal<T extends { status: string }>(read: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    const x = await read();
    if (isTerminal(x.status) || i >= 600) return x;
    await sleep(100);
  }
}

/**
 * `submit --follow`: streams every job's log of the runs as they run; lines get a `[stage/job]`
 * prefix (`[run stage/job]` for several runs) when more than one job is followed. Returns the final runs.
 */
export async function followRuns(client: Client, runIds: string[], opts: { write?: Write } = {}): Promise<Run[]> {
  const write = opts.write ?? stdoutWrite;
  const runs = await Promise.all(runIds.map((id) => client.get<Run>(`/runs/${id}`)));
  const jobs = runs.flatMap((r) => (r.stages ?? []).flatMap((s) => s.jobs.map((j) => ({ r, j }))));
  const prefixed = runIds.length > 1 || jobs.length > 1;
  const targets: Target[] = jobs.map(({ r, j }) => ({
    job: j.id, offset: 0, done: false,
    prefix: prefixed ? new LinePrefixer(runIds.length > 1 ? `${r.id} ${j.stage}/${j.name}` : `${j.stage}/${j.name}`, write) : undefined,
  }));
  if (targets.length && !(await streamLogs(client, targets, { write, probe: () => client.get(`/runs/${runIds[0]}`) }))) {
    await pollLogs(client, targets, write, async () => (await Promise.all(runIds.map((id) => client.get<Run>(`/runs/${id}`)))).every((r) => isTerminal(r.status)));
  }
  return Promise.all(runIds.map((id) => waitTerminal(() => client.get<Run>(`/runs/${id}`))));
}
