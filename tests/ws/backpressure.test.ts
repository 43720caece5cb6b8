// A client that never reads must not grow the server's memory: past the buffer cap (or stalled)
// it is sent an error and closed, while a reader beside it gets the whole log.
import { test, expect, afterEach } from 'bun:test';
import { startServer, type TestServer } from '../helpers/server.ts';
import { WsClient, storedLog, rssKb, gatedJob } from './helpers.ts';

let servers: TestServer[] = [];
afterEach(async () => { for (const s of servers) await s.stop(); servers = []; });

const MB = 1024 * 1024;

test('a subscriber that never reads is closed with slow_client and the server RSS stays bounded', async () => {
  process.env.DROVER_WS_STALL_MS = '2000';
  process.env.DROVER_WS_HEARTBEAT_MS = '500';
  let s: TestServer;
  try { s = await startServer(); } finally { delete process.env.DROVER_WS_STALL_MS; delete process.env.DROVER_WS_HEARTBEAT_MS; }
  servers.push(s);
  const pid = s.proc.pid;
  // ~300 MB, fast
  const { run: runId, job, open } = await gatedJob(s, 'ws-slow', 'yes "0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopq" | head -c 314572800');

  const stuck = await WsClient.open(s);
  const sock = (stuck.ws as any)._socket;
  sock.pause(); // never reads again
  stuck.send({ op: 'subscribe', channel: 'logs', job, offset: 0 });

  // a reader that keeps up, counting bytes only
  const good = await WsClient.open(s);
  let goodBytes = 0, goodEof = false;
  good.ws.removeAllListeners('message');
  good.ws.on('message', (raw) => {
    const m = JSON.parse(raw.toString());
    if (m.type === 'log') { expect(m.offset).toBe(goodBytes); goodBytes += m.bytes; }
    if (m.type === 'eof') goodEof = true;
  });
  good.send({ op: 'subscribe', channel: 'logs', job, offset: 0 });
  await Bun.sleep(300);

  const base = rssKb(pid);
  let peak = base;
  const sampler = setInterval(() => { peak = Math.max(peak, rssKb(pid)); }, 50);
  await open();
  const run = await s.waitRun(runId, undefined, 60_000);
  expect(run.status).toBe('succeeded');
  const t0 = Date.now();
  while (!goodEof && Date.now() - t0 < 60_000) await Bun.sleep(50);
  await Bun.sleep(3_500); // past the stall limit
  clearInterval(sampler);

  expect(goodEof).toBe(true);
  const stored = await storedLog(s, job);
  expect(stored.length).toBe(314572800);
  expect(goodBytes).toBe(stored.length);

  // the stuck client: the server gave up on it (error + close); what it got is a prefix of the log
  sock.resume();
  const closed = await stuck.waitClosed(15_000);
  expect([4008, 1006]).toContain(closed.code);
  const got = stuck.msgs.filter((m) => m.type === 'log').reduce((a, m) => a + m.bytes, 0);
  expect(got).toBeLessThan(64 * MB);
  expect(stuck.msgs.some((m) => m.type === 'eof')).toBe(false);
  if (closed.code === 4008) expect(stuck.msgs.some((m) => m.type === 'error' && m.code === 'slow_client')).toBe(true);

  const growthMb = (peak - base) / 1024;
  console.log(`server RSS: base ${(base / 1024).toFixed(0)} MB, peak ${(peak / 1024).toFixed(0)} MB (+${growthMb.toFixed(0)} MB) while streaming 300 MB; stuck client got ${(got / MB).toFixed(1)} MB before being closed`);
  expect(growthMb).toBeLessThan(120);
  good.close();
}, 120_000);
