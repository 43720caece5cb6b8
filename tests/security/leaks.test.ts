// Secrets never leak (#7): a job that prints its secrets in every form — plain, on stderr, base64
// (standard, URL-safe, at each alignment inside a longer text), URL-encoded, JSON-escaped, split
// across two writes with a pause between, each line of a multi-line secret — and writes them to its
// outputs. None of it may show up in the stored log files, GET /jobs/:id/logs, the WebSocket stream,
// result.json, any API answer, the database, the job folder, the server's log or a command line.
import { test, expect, beforeAll, afterAll, describe } from 'bun:test';
import { readFileSync, readdirSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { startServer, type TestServer } from '../helpers/server.ts';
import { WsClient, joinLog } from '../ws/helpers.ts';
import { expectNoLeak, fileText, URLENC } from './helpers.ts';

const TOK = 'Pa55/w0rd+"quoted"&amp=1 ünï-x9Q';
const KEY = '-----BEGIN TEST KEY-----\nMIIBVgIBADANBgkqhkiG9w0BAQEFAASC\nAUAwggE8AgEAAkEAq7BFUpkGp3XQmZW\n-----END TEST KEY-----';
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

const COMMANDS = [
  // plain, stderr, URL-encoded, JSON-escaped; and the job really has the value (checked by its hash)
  `sleep 1; [ "$(printf %s "$TOK" | sha256sum | cut -c1-64)" = "${sha(TOK)}" ] || exit 9; echo "plain: $TOK"; echo "stderr: $TOK" >&2; ${URLENC}; echo "url: $(urlenc "$TOK")"; printf 'json: {"t":"%s"}\\n' "$(printf '%s' "$TOK" | sed 's/\\\\/\\\\\\\\/g; s/"/\\\\"/g')"`,
  // base64: standard, URL-safe, and at offsets 1 and 2 of a longer encoded text
  `printf '%s' "$TOK" | base64 -w0; echo; printf '%s' "$TOK" | base64 -w0 | tr '+/' '-_'; echo; printf 'x%s' "$TOK" | base64 -w0; echo; printf 'xy%s' "$TOK" | base64 -w0; echo`,
  // split across two writes, 0.3 s apart: the value, and its base64
  `printf 'split: %s' "\${TOK:0:9}"; sleep 0.3; printf '%s\\n' "\${TOK:9}"; B=$(printf '%s' "$TOK" | base64 -w0); printf 'b64 split: %s' "\${B:0:11}"; sleep 0.3; printf '%s\\n' "\${B:11}"`,
  // a multi-line secret, whole and one line of it; both into the job's outputs
  `echo "$KEY"; echo "$KEY" | sed -n 2p; echo "tok=$TOK" >> "$DROVER_OUTPUT"; echo "b64=$(printf %s "$TOK" | base64 -w0)" >> "$DROVER_OUTPUT"; echo "line=$(echo "$KEY" | sed -n 3p)" >> "$DROVER_OUTPUT"`,
];

let s: TestServer;
let run: any, jobId: string, ws: WsClient, wsCmd: WsClient, cmdlines = '';
beforeAll(async () => {
  s = await startServer(['--max-parallel', '2']);
  expect((await s.api('PUT', '/secrets/TOK', { value: TOK })).status).toBe(201);
  expect((await s.api('PUT', '/secrets/KEY', { value: KEY })).status).toBe(201);
  const out = await s.submit({ name: 'leaky', secrets: ['TOK', 'KEY'], stages: [{ name: 'main', jobs: [{ name: 'job', commands: COMMANDS }] }] });
  jobId = out.run.stages[0].jobs[0].id;
  ws = await WsClient.open(s);
  ws.send({ op: 'subscribe', channel: 'logs', job: jobId, offset: 0 });
  wsCmd = await WsClient.open(s);
  wsCmd.send({ op: 'subscribe', channel: 'logs', job: jobId, offset: 0, command: 0 });
  // while the first command sleeps: every process's command line
  await Bun.sleep(500);
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try { cmdlines += readFileSync(`/proc/${pid}/cmdline`, 'latin1') + '\n'; } catch { /* gone */ }
  }
  run = await s.waitRun(out.run.id);
  await ws.waitFor((m) => m.type === 'eof', { what: 'eof' });
  await wsCmd.waitFor((m) => m.type === 'eof', { what: 'eof of command 0' });
  await Bun.sleep(300); // attestation.json is written just after result.json
}, 60_000);
afterAll(async () => { ws?.close(); wsCmd?.close(); await s?.stop(); });

const job = () => run.stages[0].jobs[0];

describe('a job printing its secrets in every form', () => {
  test('ran with the values and succeeded; its log shows the markers instead', async () => {
    expect(run.status).toBe('succeeded');
    const log = (await s.api('GET', `/jobs/${jobId}/logs`)).text;
    expect(log).toContain('plain: [REDACTED:TOK]');
    expect(log).toContain('stderr: [REDACTED:TOK]');
    expect(log).toContain('split: [REDACTED:TOK]');
    expect(log).toContain('[REDACTED:KEY]');
    expect(job().outputs.tok).toBe('[REDACTED:TOK]');
  });

  test('the stored log files and GET /jobs/:id/logs (whole and per command)', async () => {
    const logs = join(job().dir, 'logs');
    for (const f of readdirSync(logs)) for (const v of [TOK, KEY]) expectNoLeak(readFileSync(join(logs, f)), v, `logs/${f}`);
    const whole = Buffer.from(await (await fetch(`${s.url}/api/v1/jobs/${jobId}/logs`, { headers: { authorization: `Bearer ${s.token}` } })).arrayBuffer());
    for (const v of [TOK, KEY]) expectNoLeak(whole, v, 'GET logs');
    for (let i = 0; i < COMMANDS.length; i++) {
      const r = await s.api('GET', `/jobs/${jobId}/logs?command=${i}`);
      for (const v of [TOK, KEY]) expectNoLeak(r.text, v, `GET logs?command=${i}`);
    }
  });

  test('the WebSocket stream (whole log and one command), which equals the stored log', async () => {
    const whole = joinLog(ws.msgs, jobId);
    const stored = Buffer.from(await (await fetch(`${s.url}/api/v1/jobs/${jobId}/logs`, { headers: { authorization: `Bearer ${s.token}` } })).arrayBuffer());
    expect(whole.bytes.equals(stored)).toBe(true);
    for (const v of [TOK, KEY]) {
      expectNoLeak(whole.bytes, v, 'WebSocket log');
      expectNoLeak(JSON.stringify(ws.msgs), v, 'WebSocket messages');
      expectNoLeak(JSON.stringify(wsCmd.msgs), v, 'WebSocket messages of command 0');
    }
  });

  test('result.json, attestation.json and the job folder (job.sh, job.out, outputs.env, meta; raw/ and .secrets are gone)', () => {
    const dir = job().dir;
    for (const f of ['result.json', 'attestation.json', 'run.json']) for (const v of [TOK, KEY]) expectNoLeak(fileText(join(run.dir, f)), v, f);
    expect(JSON.parse(readFileSync(join(run.dir, 'result.json'), 'utf8')).jobs[0].outputs.tok).toBe('[REDACTED:TOK]');
    for (const f of ['job.sh', 'job.out', 'outputs.env', 'needs.json', ...readdirSync(join(dir, 'meta')).map((m) => `meta/${m}`)]) {
      for (const v of [TOK, KEY]) expectNoLeak(fileText(join(dir, f)), v, f);
    }
    expect(readdirSync(dir).sort()).toEqual(['job.out', 'job.sh', 'logs', 'meta', 'needs.json', 'outputs.env']);
    expect(readFileSync(join(dir, 'job.sh'), 'utf8')).toContain('. "$__D/.secrets"');
  });

  test('every API answer', async () => {
    const paths = [
      `/runs/${run.id}`, '/runs', `/jobs/${jobId}`, `/jobs?run=${run.id}`, `/jobs/${jobId}/why`, `/groups/${run.group_id}`, '/groups',
      `/runs/${run.id}/graph`, `/runs/${run.id}/graph?format=dot`, `/runs/${run.id}/attestation`, '/events', '/queue', '/secrets', '/audit',
      '/pipelines', '/pipelines/leaky', '/tokens', '/metrics',
    ];
    for (const p of paths) {
      const r = await s.api('GET', p);
      expect(`${p} ${r.status}`).toBe(`${p} 200`);
      for (const v of [TOK, KEY]) expectNoLeak(r.text, v, `GET ${p}`);
    }
  });

  test('the database (and its WAL), the server log, and every command line while the job ran', () => {
    for (const f of ['drover.db', 'drover.db-wal']) for (const v of [TOK, KEY]) expectNoLeak(fileText(join(s.dataDir, f)), v, f);
    for (const v of [TOK, KEY]) {
      expectNoLeak(s.stderr, v, 'server log');
      expectNoLeak(cmdlines, v, '/proc/*/cmdline');
    }
    expect(cmdlines).toContain('job.sh'); // the job was running when they were read
    expect(statSync(join(s.dataDir, 'secrets.key')).mode & 0o777).toBe(0o600);
  });
});

test('a secret that appears literally in a spec is redacted from the API answers about it', async () => {
  const literal = TOK.replace(/["&]/g, '');
  expect((await s.api('PUT', '/secrets/LIT', { value: literal })).status).toBe(201);
  const submitted = await s.api('POST', '/runs', { spec: { name: 'literal', stages: [{ name: 'a', commands: [`true '${literal}'`] }] } });
  expect(submitted.status).toBe(201);
  expectNoLeak(submitted.text, literal, 'POST /runs answer');
  expect(submitted.text).toContain('[REDACTED:LIT]');
  const r = await s.api('GET', `/runs/${submitted.body.run.id}`);
  expectNoLeak(r.text, literal, 'GET /runs/:id');
  await s.api('DELETE', '/secrets/LIT');
});
