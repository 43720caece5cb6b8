// Typed HTTP client for /api/v1 plus connection discovery (URL, token, data dir).
// Every failure becomes a one-line CliError (exit 2); it never touches db/ or core state.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { CliError } from './args.ts';

export const DEFAULT_URL = 'http://127.0.0.1:7070';
export const API_BASE = '/api/v1';

export interface ConnectionFlags { url?: string; dataDir?: string; tokenFile?: string }
export interface Connection { url: string; token?: string; dataDir: string }
type Env = Record<string, string | undefined>;

export function resolveDataDir(flags: ConnectionFlags, env: Env = process.env): string {
  return flags.dataDir || env.DROVER_DATA_DIR || join(homedir(), '.drover');
}

function readOptional(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** --url, DROVER_URL, <data-dir>/server.json `url`, then the default; trailing `/` and `/api/v1` dropped. */
export function resolveUrl(flags: ConnectionFlags, env: Env = process.env, dataDir = resolveDataDir(flags, env)): string {
  let url = flags.url || env.DROVER_URL;
  if (!url) {
    const raw = readOptional(join(dataDir, 'server.json'));
    if (raw) {
      try {
        const u = (JSON.parse(raw) as { url?: unknown }).url;
        if (typeof u === 'string' && u) url = u;
      } catch { /* a half-written server.json: fall through to the default */ }
    }
  }
  return (url || DEFAULT_URL).replace(/\/+$/, '').replace(/\/api\/v1$/, '');
}

/** --token-file (must be readable), DROVER_TOKEN, then <data-dir>/admin.token; none is allowed (the server says 401). */
export function resolveToken(flags: ConnectionFlags, env: Env = process.env, dataDir = resolveDataDir(flags, env)): string | undefined {
  if (flags.tokenFile) {
    const raw = readOptional(flags.tokenFile);
    if (raw === undefined) throw new CliError(`drover: cannot read token file ${flags.tokenFile}`);
    return raw.trim() || undefined;
  }
  if (env.DROVER_TOKEN) return env.DROVER_TOKEN.trim();
  return readOptional(join(dataDir, 'admin.token'))?.trim() || undefined;
}

export function resolveConnection(flags: ConnectionFlags, env: Env = process.env): Connection {
  const dataDir = resolveDataDir(flags, env);
  return { dataDir, url: resolveUrl(flags, env, dataDir), token: resolveToken(flags, env, dataDir) };
}

export type Query = Record<string, string | number | boolean | undefined | null>;
/** The CLI names itself, so runs it submits are recorded with trigger kind 'manual'. */
export const CLI_AGENT = 'drover-cli';

export interface TextResponse { text: string; bytes: Uint8Array; headers: Headers }

export class Client {
  constructor(readonly conn: Connection, private readonly fetchImpl: typeof fetch = fetch) {}

  url(path: string, query: Query = {}): string {
    const u = new URL(this.conn.url + API_BASE + path);
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') u.searchParams.set(k, String(v));
    return u.toString();
  }

  async request(method: string, path: string, opts: { query?: Query; body?: unknown; headers?: Record<string, string> } = {}): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': CLI_AGENT, ...opts.headers };
    if (this.conn.token) headers.authorization = `Bearer ${this.conn.token}`;
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await this.fetchImpl(this.url(path, opts.query), {
        method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      });
    } catch {
      throw new CliError(`drover: cannot reach the server at ${this.conn.url} (is 'drover serve' running?)`);
    }
    if (!res.ok) throw await toCliError(res);
    return res;
  }

  async json<T>(method: string, path: string, opts: { query?: Query; body?: unknown } = {}): Promise<T> {
    const res = await this.request(method, path, opts);
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    if (!text) return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new CliError(`drover: bad_response: the server answered ${method} ${path} with invalid JSON`);
    }
  }

  get<T>(path: string, query?: Query) { return this.json<T>('GET', path, { query }); }
  post<T>(path: string, body?: unknown, query?: Query) { return this.json<T>('POST', path, { body, query }); }
  delete<T>(path: string) { return this.json<T>('DELETE', path); }

  /** A text/plain endpoint (logs, graph): the raw bytes, their UTF-8 text and the headers. */
  async text(path: string, query?: Query): Promise<TextResponse> {
    const res = await this.request('GET', path, { query, headers: { accept: 'text/plain, application/json' } });
    const bytes = new Uint8Array(await res.arrayBuffer());
    return { bytes, text: new TextDecoder().decode(bytes), headers: res.headers };
  }
}

/** A non-2xx answer: still a CliError (exit 2), keeping the HTTP status and error code for callers. */
export class HttpError extends CliError {
  constructor(message: string, readonly status: number, code: string, details: Record<string, unknown> = {}, serverMessage = message) {
    super(message, 2, { code, details, message: serverMessage });
  }
}

/** `{"error":{code,message}}` → `drover: <code>: <message>`; anything else → `drover: http_<status>: …`. */
export async function toCliError(res: Response): Promise<HttpError> {
  const text = await res.text().catch(() => '');
  let code = `http_${res.status}`;
  let message = res.statusText || 'request failed';
  let details: Record<string, unknown> = {};
  try {
    const err = (JSON.parse(text) as { error?: { code?: unknown; message?: unknown; details?: unknown } }).error;
    if (err && typeof err.code === 'string') code = err.code;
    if (err && err.details && typeof err.details === 'object') details = err.details as Record<string, unknown>;
    if (err && typeof err.message === 'string' && err.message) message = err.message;
  } catch {
    if (text.trim()) message = text.trim().split('\n')[0]!.slice(0, 200);
  }
  const retry = res.status === 429 && res.headers.get('retry-after');
  const line = `drover: ${code}: ${message.replace(/\s*\n\s*/g, ' ')}${retry ? ` (retry after ${retry}s)` : ''}`;
  return new HttpError(line, res.status, code, details, message);
}
