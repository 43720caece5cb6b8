// Many subscribers of one live log: every one of them gets the whole log, in order, exactly once.
import { test, expect } from 'bun:test';
import { joinLog, storedLog, gatedJob, wsFixture } from './helpers.ts';

const fx = wsFixture();

test('200 concurrent subscribers of a running job all receive the full log', async () => {
  const s = await fx.server();
  // starts only once the subscribers are in, so most of the log reaches them live
  const { job, open } = await gatedJob(s, 'ws-fanout', 'for j in $(seq 1 20); do for i in $(seq 1 2000); do echo "line $j.$i ✓ some text to make it longer"; done; sleep 0.02; done');
  const clients = await fx.clients(s, 200);
  for (const c of clients) c.send({ op: 'subscribe', channel: 'logs', job, offset: 0 });
  await Promise.all(clients.map((c) => c.waitFor((m) => m.type === 'subscribed', { what: 'the subscription ack' })));
  await open();
  await Promise.all(clients.map((c) => c.waitFor((m) => m.type === 'eof', { timeoutMs: 60_000, what: 'eof' })));
  const stored = await storedLog(s, job);
  expect(stored.length).toBeGreaterThan(1_500_000);
  for (const c of clients) {
    const { bytes } = joinLog(c.msgs, job); // throws on a gap or an overlap
    expect(bytes.length).toBe(stored.length);
    expect(Buffer.compare(bytes, stored)).toBe(0);
    expect(c.msgs.filter((m) => m.type === 'eof')).toHaveLength(1);
    expect(c.msgs.filter((m) => m.type === 'error')).toEqual([]);
  }
}, 120_000);
