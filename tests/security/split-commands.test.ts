// Issue 14 #3: a secret printed half by one command and half by the next is redacted in the stream a
// reader sees — the whole-job log (GET /jobs/:id/logs without `command`, and the WebSocket whole-job
// stream) — not only in each command's own log.
import { test, expect, beforeAll, afterAll } from 'bun:test';
import { startServer, oneStage, type TestServer } from '../helpers/server.ts';
import { WsClient, joinLog } from '../ws/helpers.ts';
import { expectNoLeak } from './helpers.ts';
import { Redactor } from '../../src/core/redact/redactor.ts';

const VALUE = 'split-across-commands-SECRET-42';
let s: TestServer;
beforeAll(async () => {
  s = await startServer(['--max-parallel', '4']);
  expect((await s.api('PUT', '/secrets/SPLIT', { value: VALUE })).status).toBe(201);
});
afterAll(async () => { await s?.stop(); });

async function wholeViews(job: string) {
  const ws = await WsClient.open(s);
  ws.send({ op: 'subscribe', channel: 'logs', job, offset: 0 });
  await ws.waitFor((m) => m.type === 'eof' && m.job === job, { what: 'eof' });
  const tail = joinLog(ws.msgs, job).bytes.toString();
  ws.close();
  return { http: (await s.api('GET', `/jobs/${job}/logs`)).text, ws: tail };
}

const cases: [string, string[], RegExp][] = [
  ['at once', ['printf "a %s" "${SPLIT:0:12}"', 'printf "%s b\\n" "${SPLIT:12}"'], /^a \[REDACTED:SPLIT\] b\n$/],
  ['the second half late', ['printf "a %s" "${SPLIT:0:5}"', 'sleep 1; printf "%s b\\n" "${SPLIT:5}"'], /^a \[REDACTED:SPLIT\] b\n$/],
  ['across an empty command', ['printf "a %s" "${SPLIT:0:20}"', 'true', 'printf "%s b\\n" "${SPLIT:20}"'], /^a \[REDACTED:SPLIT\] b\n$/],
  ['no secret at the boundary', ['printf "x-%s\\n" "$SPLIT"; printf "tail"', 'printf "head-%s\\n" "$SPLIT"'], /^x-\[REDACTED:SPLIT\]\ntailhead-\[REDACTED:SPLIT\]\n$/],
];

for (const [name, commands, want] of cases) {
  test(`split across commands (${name}): whole-job log and WebSocket stream hold only the marker`, async () => {
    const out = await s.submit(oneStage(`split-${name.replace(/\W+/g, '-')}`, commands, { secrets: ['SPLIT'] }));
    const job = out.run.stages[0].jobs[0].id;
    const run = await s.waitRun(out.run.id);
    expect(run.status).toBe('succeeded');
    const v = await wholeViews(job);
    expectNoLeak(v.http, VALUE, 'GET whole-job log');
    expectNoLeak(v.ws, VALUE, 'WebSocket whole-job stream');
    expect(v.http).toMatch(want);
    expect(v.ws).toBe(v.http);
    let perCommand = '';
    for (let i = 0; i < commands.length; i++) perCommand += (await s.api('GET', `/jobs/${job}/logs?command=${i}`)).text;
    expect(perCommand).toBe(v.http);
  }, 60_000);
}

test('Redactor.splitAt: a match across the boundary becomes its marker before it, and says how much after it to skip', () => {
  const r = new Redactor([{ name: 'K', value: 'abcdefgh' }]);
  const data = new TextEncoder().encode('xx abcdefgh-rest');
  const at = data.indexOf('e'.charCodeAt(0));
  const { head, skip } = r.splitAt(data, at);
  expect(new TextDecoder().decode(head)).toBe('xx [REDACTED:K]');
  expect(skip).toBe('efgh'.length);
  const none = r.splitAt(new TextEncoder().encode('xx abc|zzzzzzzz'), 6);
  expect(new TextDecoder().decode(none.head)).toBe('xx abc');
  expect(none.skip).toBe(0);
});

test('Copier: output cut into commands at random places reads, command after command, exactly like one redacted stream', async () => {
  const { mkdtempSync, mkdirSync, writeFileSync, appendFileSync, readFileSync, existsSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const { Copier } = await import('../../src/core/redact/copier.ts');
  const r = new Redactor([{ name: 'A', value: 'alpha-secret-000' }, { name: 'B', value: 'bravo-SECRET-1' }]);
  const text = Buffer.from(Array.from({ length: 60 }, (_, i) => `line ${i} ${i % 3 ? 'alpha-secret-000' : 'bravo-SECRET-1'} ${Buffer.from('alpha-secret-000').toString('base64')}\n`).join(''));
  const want = Buffer.from(r.redact(text)).toString();
  let seed = 7;
  const rand = (n: number) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
  for (let round = 0; round < 40; round++) {
    const cuts = [...new Set(Array.from({ length: 1 + rand(6) }, () => rand(text.length)))].sort((a, b) => a - b);
    const bounds = [0, ...cuts, text.length];
    const parts = bounds.slice(1).map((end, k) => text.subarray(bounds[k]!, end));
    const dir = mkdtempSync(join(tmpdir(), 'drover-split-'));
    mkdirSync(join(dir, 'raw')); mkdirSync(join(dir, 'logs'));
    const c = new Copier({ dir, commandCount: parts.length, redactor: r, maxLogSize: null });
    for (const [k, p] of parts.entries()) {
      // each command writes in a few pieces, with passes in between (a live copy)
      writeFileSync(join(dir, 'raw', `${k}.log`), '');
      for (let at = 0; at < p.length;) { const n = 1 + rand(40); appendFileSync(join(dir, 'raw', `${k}.log`), p.subarray(at, at + n)); at += n; if (rand(2)) c.pass(false); }
    }
    await c.drain();
    const got = parts.map((_, k) => (existsSync(join(dir, 'logs', `${k}.log`)) ? readFileSync(join(dir, 'logs', `${k}.log`), 'utf8') : '')).join('');
    expect(got).toBe(want);
  }
});
