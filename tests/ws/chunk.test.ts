// Read and message sizes of a log tail: big binary frames for a fast lone reader, JSON-sized reads
// whenever a JSON subscriber shares the tail, and every message under the connection's hard cap.
import { test, expect } from 'bun:test';
import { WsClient, joinLog, storedLog, gatedJob, wsFixture } from './helpers.ts';
import { chunkFor } from '../../src/ws/tail.ts';
import { DEFAULT_LIMITS } from '../../src/ws/backpressure.ts';

const fx = wsFixture();

const KiB = 1024;

test('chunkFor: 1 MiB binary, 256 KiB JSON, shrinking with subscribers to 64 KiB; a message always fits under the hard cap', () => {
  expect(chunkFor(1, false)).toBe(1024 * KiB);
  expect(chunkFor(1, true)).toBe(256 * KiB);
  expect(chunkFor(32, false)).toBe(1024 * KiB);
  expect(chunkFor(100, false)).toBeLessThan(chunkFor(32, false));
  expect(chunkFor(1000, false)).toBe(64 * KiB);
  expect(chunkFor(1000, true)).toBe(64 * KiB);
  for (const n of [1, 10, 100, 1000]) {
    // sent while the queue is under logSoft: a JSON message is at most ~6× its bytes (\u00XX escapes)
    expect(DEFAULT_LIMITS.logSoft + 6 * chunkFor(n, true) + 200).toBeLessThan(DEFAULT_LIMITS.hardCap);
    expect(DEFAULT_LIMITS.logSoft + chunkFor(n, false) + 200).toBeLessThan(DEFAULT_LIMITS.hardCap);
  }
});

test('a binary and a JSON subscriber of the same fast job both get the whole log, in order, once', async () => {
  const s = await fx.server();
  // ~6 MB as fast as the shell can print it, with multi-byte characters across chunk boundaries
  const { job, open } = await gatedJob(s, 'ws-mixed', 'yes "mixed ✓ ünïcödé 日本語 🚀 0123456789abcdefghijklmnopqrstuvwxyz" | head -c 6000000');
  const clients = await fx.clients(s, 2);
  const [bin, json] = clients as [WsClient, WsClient];
  bin.send({ op: 'subscribe', channel: 'logs', job, offset: 0, encoding: 'binary' });
  json.send({ op: 'subscribe', channel: 'logs', job, offset: 0 });
  await Promise.all(clients.map((c) => c.waitFor((m) => m.type === 'subscribed', { what: 'the subscription ack' })));
  await open();
  await Promise.all(clients.map((c) => c.waitFor((m) => m.type === 'eof', { timeoutMs: 60_000, what: 'eof' })));
  const stored = await storedLog(s, job);
  expect(stored.length).toBe(6_000_000);
  let end = 0;
  const parts: Buffer[] = [];
  for (const m of bin.msgs) {
    if (m.type !== 'log') continue;
    expect(m.offset).toBe(end);
    expect(m.raw.length).toBe(m.bytes);
    expect(m.bytes).toBeLessThanOrEqual(1024 * KiB);
    parts.push(m.raw);
    end += m.bytes;
  }
  expect(Buffer.compare(Buffer.concat(parts), stored)).toBe(0);
  const { bytes } = joinLog(json.msgs, job); // throws on a gap or an overlap
  expect(Buffer.compare(bytes, stored)).toBe(0);
  for (const m of json.msgs) if (m.type === 'log') expect(m.bytes).toBeLessThanOrEqual(256 * KiB);
  for (const c of clients) expect(c.msgs.filter((m) => m.type === 'error')).toEqual([]);
}, 60_000);
