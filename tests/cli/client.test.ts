// cli/client.ts against a tiny fake API on a real port: URL/token discovery from a temp
// data dir, error mapping, and the exit codes of a few commands run through src/main.ts.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CliError } from '../../src/cli/args.ts';
import { Client, DEFAULT_URL, HttpError, resolveConnection } from '../../src/cli/client.ts';

const TOKEN = 'tok-123';
const LOG = 'line one\nline two\nline three\n';
let server: ReturnType<typeof Bun.serve>;
let url: string;
let dir: string;
let submitted: unknown;
let jobPolls = 0;
let runPolls = 0;

const json = (body: unknown, status = 200) => Response.json(body, { status });
const err = (status: number, code: string, message: string) => json({ error: { code, message, details: {} } }, status);
const run = (id: string, status: string) => ({ id, pipeline: 'p', group_id: null, status, stages: [] });

function route(req: Request): Response {
  const u = new URL(req.url);
  if (req.headers.get('authorization') !== `Bearer ${TOKEN}`) return err(401, 'unauthorized', 'missing or bad token');
  const p = u.pathname.replace(/^\/api\/v1/, '');
  if (p === '/runs' && req.method === 'GET') return json({ items: [run('r_1', 'succeeded')], next_cursor: null });
  if (p === '/runs' && req.method === 'POST') {
    return req.json().then((b) => { submitted = b; return json({ run: run('r_new', 'queued') }); }) as unknown as Response;
  }
  if (p === '/runs/r_new') return json(run('r_new', ++runPolls < 3 ? 'running' : 'failed'));
  if (p === '/runs/r_missing') return err(404, 'not_found', 'run r_missing not found');
  if (p === '/broken') return new Response('<html>bad gateway</html>', { status: 502, statusText: 'Bad Gateway' });
  if (p === '/jobs/j_1') return json({ id: 'j_1', status: ++jobPolls < 4 ? 'running' : 'succeeded' });
  if (p === '/jobs/j_1/logs') {
    const visible = LOG.slice(0, Math.min(LOG.length, jobPolls * 9)); // the log grows with each poll
    const offset = Number(u.searchParams.get('offset') ?? 0);
    return new Response(visible.slice(offset), { headers: { 'content-type': 'text/plain', 'x-log-size': String(visible.length) } });
  }
  return err(404, 'not_found', `no route ${p}`);
}

beforeAll(() => {
  server = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: route });
  url = `http://127.0.0.1:${server.port}`;
  dir = mkdtempSync(join(tmpdir(), 'drover-cli-'));
  writeFileSync(join(dir, 'server.json'), JSON.stringify({ url, pid: 1 }));
  writeFileSync(join(dir, 'admin.token'), `  ${TOKEN}\n`);
});
afterAll(() => {
  server.stop(true);
  rmSync(dir, { recursive: true, force: true });
});

describe('connection discovery', () => {
  test('finds URL and token in the data dir (server.json, admin.token trimmed)', () => {
    expect(resolveConnection({ dataDir: dir }, {})).toEqual({ url, token: TOKEN, dataDir: dir });
    expect(resolveConnection({}, { DROVER_DATA_DIR: dir })).toMatchObject({ url, token: TOKEN });
  });

  test('flags beat env, env beats the data dir; /api/v1 and trailing slashes are dropped', () => {
    const tf = join(dir, 'other.token');
    writeFileSync(tf, 'from-file\n');
    const env = { DROVER_URL: 'http://env:1/', DROVER_TOKEN: 'from-env', DROVER_DATA_DIR: dir };
    expect(resolveConnection({}, env)).toMatchObject({ url: 'http://env:1', token: 'from-env' });
    expect(resolveConnection({ url: 'http://flag:2/api/v1', tokenFile: tf }, env)).toMatchObject({ url: 'http://flag:2', token: 'from-file' });
  });

  test('an empty data dir gives the default URL and no token; a bad server.json is ignored', () => {
    const empty = mkdtempSync(join(tmpdir(), 'drover-cli-empty-'));
    expect(resolveConnection({ dataDir: empty }, {})).toEqual({ url: DEFAULT_URL, token: undefined, dataDir: empty });
    writeFileSync(join(empty, 'server.json'), '{"url": ');
    expect(resolveConnection({ dataDir: empty }, {}).url).toBe(DEFAULT_URL);
    rmSync(empty, { recursive: true });
  });

  test('an unreadable --token-file is a usage error naming the file', () => {
    expect(() => resolveConnection({ dataDir: dir, tokenFile: '/nonexistent/t' }, {})).toThrow('/nonexistent/t');
  });
});

describe('Client', () => {
  const client = () => new Client(resolveConnection({ dataDir: dir }, {}));
  async function failure(p: Promise<unknown>): Promise<HttpError | CliError> {
    const e = await p.then(() => undefined, (x) => x);
    expect(e).toBeInstanceOf(CliError);
    expect(e.exitCode).toBe(2);
    return e;
  }

  test('sends the bearer token and returns the parsed body', async () => {
    expect(await client().get('/runs', { status: 'succeeded', limit: 5, cursor: undefined })).toEqual({ items: [run('r_1', 'succeeded')], next_cursor: null });
  });

  test('an error body becomes `drover: <code>: <message>` with exit 2', async () => {
    const e = (await failure(client().get('/runs/r_missing'))) as HttpError;
    expect(e.message).toBe('drover: not_found: run r_missing not found');
    expect(e.status).toBe(404);
  });

  test('401 without a valid token', async () => {
    const c = new Client({ url, dataDir: dir, token: 'wrong' });
    expect((await failure(c.get('/runs'))).message).toBe('drover: unauthorized: missing or bad token');
  });

  test('a non-JSON error body still gives one line', async () => {
    expect((await failure(client().get('/broken'))).message).toBe('drover: http_502: <html>bad gateway</html>');
  });

  test('connection refused names the URL and suggests drover serve', async () => {
    const dead = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response('') });
    const deadUrl = `http://127.0.0.1:${dead.port}`;
    dead.stop(true);
    const e = await failure(new Client({ url: deadUrl, dataDir: dir }).get('/runs'));
    expect(e.message).toBe(`drover: cannot reach the server at ${deadUrl} (is 'drover serve' running?)`);
  });
});

describe('commands through src/main.ts', () => {
  const MAIN = join(import.meta.dir, '../../src/main.ts');
  async function drover(...args: string[]) {
    const env: Record<string, string | undefined> = { ...process.env, DROVER_DATA_DIR: dir, HOME: dir, NO_COLOR: '1' };
    delete env.DROVER_URL;
    delete env.DROVER_TOKEN;
    const p = Bun.spawn([process.execPath, MAIN, ...args], { env, stdout: 'pipe', stderr: 'pipe' });
    const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    return { stdout, stderr, code };
  }

  test('ls finds the server and token in the data dir; exit 0', async () => {
    const r = await drover('ls');
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toMatch(/^ID\s+STATUS/);
    expect(r.stdout).toContain('r_1');
  });

  test('--json prints the server JSON', async () => {
    const r = await drover('ls', 'runs', '--json');
    expect(JSON.parse(r.stdout)).toEqual({ items: [run('r_1', 'succeeded')], next_cursor: null });
  });

  test('a 4xx exits 2 with one line on stderr', async () => {
    const r = await drover('status', 'r_missing');
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('drover: not_found: run r_missing not found\n');
  });

  test('a bad token file is refused with 401 → exit 2', async () => {
    const tf = join(dir, 'bad.token');
    writeFileSync(tf, 'nope');
    expect(await drover('ls', '--token-file', tf)).toMatchObject({ code: 2, stderr: 'drover: unauthorized: missing or bad token\n' });
  });

  test('--token on the command line is refused before anything is sent', async () => {
    const r = await drover('ls', '--token', TOKEN);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('visible to every user in ps');
  });

  test('submit --wait sends params and an absolute workspace, exits 1 when the run failed', async () => {
    mkdirSync(join(dir, 'specs'), { recursive: true });
    const spec = join(dir, 'specs', 'p.yaml');
    writeFileSync(spec, 'name: p\nworkspace: ./ws\nstages: []\n');
    const r = await drover('submit', spec, '--param', 'lr=0.1', '--param', 'tag=x', '--priority', '3', '--wait');
    expect(submitted).toEqual({ spec: { name: 'p', workspace: join(dir, 'specs', 'ws'), stages: [] }, params: { lr: 0.1, tag: 'x' }, priority: 3 });
    expect(r.stdout.split('\n')[0]).toBe('r_new');
    expect(r.stdout).toContain('failed');
    expect(r.code).toBe(1);
  });

  test('logs -f prints the whole growing log once and exits 0 when the job succeeded', async () => {
    const r = await drover('logs', 'j_1', '-f');
    expect(r.stdout).toBe(LOG);
    expect(r.code).toBe(0);
  });
});
