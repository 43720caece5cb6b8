// Live log tailing over the WebSocket, resumed across forced disconnects in the middle of a fast
// printing job: the joined stream must equal the stored log (GET /jobs/:id/logs) byte for byte.
import { test, expect, afterEach } from 'bun:test';
import { startServer, oneStage, type TestServer } from '../helpers/server.ts';
import { WsClient, storedLog, firstJob } from './helpers.ts';
import { utf8Cut } from '../../src/ws/tail.ts';

let servers: TestServer[] = [];
afterEach(async () => { for (const s of servers) await s.stop(); servers = []; });
const server = async (args: string[] = []) => { const s = await startServer(args); servers.push(s); return s; };

// three commands: a burst, a steady stream in bursts, and a tail without a final newline;
// multi-byte characters everywhere so chunk boundaries fall inside them
const FAST_JOB = [
  'for i in $(seq 1 30000); do echo "burst $i: ünïcödé ✓ — 日本語 🚀"; done',
  'for j in $(seq 1 25); do for i in $(seq 1 3000); do echo "wave $j.$i ✓ ÿ"; done; sleep 0.04; done',
  'printf "the end ✓ 🚀 (no newline)"',
];

/** Follows a job's log, dropping the connection (terminate, in-flight messages lost) each time a cut is passed. */
async function followWithCuts(s: TestServer, job: string, cuts: number[], command?: number, encoding?: 'binary') {
  let offset = 0, reconnects = 0, runningAtFirstCut = false;
  const parts: Buffer[] = [];
  for (;;) {
    const c = await WsClient.open(s);
    c.send({ op: 'subscribe', channel: 'logs', job, offset, command, encoding });
    let i = 0, eof = false, cut = false;
    while (!eof && !cut) {
      await c.waitFor(() => true, { from: i, what: `log data after offset ${offset}` });
      for (; i < c.msgs.length && !cut; i++) {
        const m = c.msgs[i];
        if (m.type === 'log') {
          expect(m.offset).toBe(offset); // no gap, no duplicate
          const b = encoding === 'binary' ? m.raw : Buffer.from(m.data, 'utf8');
          expect(b.length).toBe(m.bytes);
          parts.push(b);
          offset += b.length;
          if (reconnects < cuts.length && offset >= cuts[reconnects]!) cut = true;
        } else if (m.type === 'eof') eof = true;
        else if (m.type === 'error') throw new Error(`server error: ${JSON.stringify(m)}`);
      }
    }
    c.close();
    if (eof) break;
    reconnects++;
    if (reconnects === 1) runningAtFirstCut = (await s.api('GET', `/jobs/${job}`)).body.status === 'running';
  }
  return { joined: Buffer.concat(parts), reconnects, runningAtFirstCut };
}

test('a follower cut off four times mid-job resumes by offset; the joined stream equals the stored log byte for byte', async () => {
  const s = await server();
  const out = await s.submit(oneStage('ws-resume', FAST_JOB, { workspace: s.root }));
  const job = firstJob(out);
  const r = await followWithCuts(s, job, [40_000, 400_000, 900_000, 2_000_000]);
  const stored = await storedLog(s, job);
  expect(r.reconnects).toBe(4);
  expect(r.runningAtFirstCut).toBe(true);
  expect(stored.length).toBeGreaterThan(2_500_000);
  expect(r.joined.length).toBe(stored.length);
  expect(Buffer.compare(r.joined, stored)).toBe(0);
  expect(r.joined.toString('utf8').endsWith('the end ✓ 🚀 (no newline)')).toBe(true);
  expect((await s.waitRun(out.run.id)).status).toBe('succeeded');
}, 60_000);

test('a subscription to one command resumes by that command\'s own offsets', async () => {
  const s = await server();
  const out = await s.submit(oneStage('ws-resume-cmd', FAST_JOB, { workspace: s.root }));
  const job = firstJob(out);
  const r = await followWithCuts(s, job, [100_000, 700_000], 1);
  const stored = await storedLog(s, job, 1);
  expect(r.reconnects).toBe(2);
  expect(stored.length).toBeGreaterThan(1_000_000);
  expect(Buffer.compare(r.joined, stored)).toBe(0);
}, 60_000);

test('binary frames: resumed across cuts, byte for byte even where the output is not UTF-8', async () => {
  const s = await server();
  const out = await s.submit(oneStage('ws-binary', [...FAST_JOB, "printf 'bad \\xff\\xfe bytes \\xe2\\x9c\\n'; printf 'cut \\xe2\\x9c'"], { workspace: s.root }));
  const job = firstJob(out);
  const r = await followWithCuts(s, job, [60_000, 800_000, 1_600_000], undefined, 'binary');
  const stored = await storedLog(s, job);
  expect(r.reconnects).toBe(3);
  expect(stored.includes(Buffer.from([0xff, 0xfe]))).toBe(true);
  expect(Buffer.compare(r.joined, stored)).toBe(0);
  // the JSON form of the same log keeps offsets and lengths in stored bytes (data shows U+FFFD there)
  const c = await WsClient.open(s);
  c.send({ op: 'subscribe', channel: 'logs', job, offset: 0 });
  await c.waitFor((m) => m.type === 'eof', { what: 'eof' });
  const logs = c.msgs.filter((m) => m.type === 'log');
  let end = 0;
  for (const m of logs) { expect(m.offset).toBe(end); end += m.bytes; }
  expect(end).toBe(stored.length);
  expect(logs.at(-1).data).toContain('\uFFFD');
  c.close();
}, 60_000);

test('a resume from the middle of a finished job sends the rest, then eof', async () => {
  const s = await server();
  const out = await s.submit(oneStage('ws-finished', ['echo one; echo ✓two', 'echo three'], { workspace: s.root }));
  await s.waitRun(out.run.id);
  const job = firstJob(out);
  const stored = await storedLog(s, job);
  const c = await WsClient.open(s);
  c.send({ op: 'subscribe', channel: 'logs', job, offset: 4 });
  await c.waitFor((m) => m.type === 'eof', { what: 'eof' });
  const logs = c.msgs.filter((m) => m.type === 'log');
  expect(logs[0].offset).toBe(4);
  expect(Buffer.compare(Buffer.from(logs.map((m) => m.data).join('')), stored.subarray(4))).toBe(0);
  c.close();
}, 30_000);

test('a retried job restarts its log at offset 0 with an error message log_restarted', async () => {
  const s = await server();
  const spec = oneStage('ws-retry', ['echo "attempt $DROVER_ATTEMPT"; sleep 0.3; [ "$DROVER_ATTEMPT" != 1 ] || exit 1; echo done'], { workspace: s.root, retries: { max: 1, backoff: '100ms' } });
  const out = await s.submit(spec);
  const job = firstJob(out);
  const c = await WsClient.open(s);
  c.send({ op: 'subscribe', channel: 'logs', job, offset: 0 });
  await c.waitFor((m) => m.type === 'eof', { what: 'eof' });
  const restart = c.msgs.findIndex((m) => m.type === 'error' && m.code === 'log_restarted');
  expect(restart).toBeGreaterThan(0);
  expect(c.msgs.slice(0, restart).filter((m) => m.type === 'log').map((m) => m.data).join('')).toBe('attempt 1\n');
  const after = c.msgs.slice(restart).filter((m) => m.type === 'log');
  expect(after[0].offset).toBe(0);
  expect(after.map((m) => m.data).join('')).toBe((await storedLog(s, job)).toString());
  expect((await storedLog(s, job)).toString()).toBe('attempt 2\ndone\n');
  c.close();
}, 30_000);

test('utf8Cut never splits a character', () => {
  const b = Buffer.from('a✓🚀');
  expect(utf8Cut(b, b.length)).toBe(b.length);
  expect(utf8Cut(b, 1)).toBe(1);
  for (let n = 2; n < 4; n++) expect(utf8Cut(b, n)).toBe(1);   // inside ✓ (3 bytes)
  expect(utf8Cut(b, 4)).toBe(4);
  for (let n = 5; n < 8; n++) expect(utf8Cut(b, n)).toBe(4);   // inside 🚀 (4 bytes)
  expect(utf8Cut(b, 8)).toBe(8);
});
