// The ticket store on its own clock: a ticket works once, not after 30 s, and the store stays bounded.
import { test, expect } from 'bun:test';
import { createTickets } from '../../src/ws/tickets.ts';

const grant = { tokenId: 't_1', tokenHash: 'h1' };

test('a ticket is redeemed once and expires after its ttl', () => {
  let now = 1_000_000;
  const t = createTickets({ now: () => now });
  const a = t.issue(grant)!;
  expect(a.expires_at).toBe(new Date(now + 30_000).toISOString());
  expect(t.redeem(a.ticket)).toEqual(grant);
  expect(t.redeem(a.ticket)).toBeNull(); // replay
  const b = t.issue(grant)!;
  now += 30_000;
  expect(t.redeem(b.ticket)).toBeNull(); // expired
  expect(t.size()).toBe(0);
});

test('outstanding tickets are capped; expired ones make room again', () => {
  let now = 0;
  const t = createTickets({ max: 3, now: () => now });
  for (let i = 0; i < 3; i++) expect(t.issue(grant)).not.toBeNull();
  expect(t.issue(grant)).toBeNull();
  now += 31_000;
  expect(t.issue(grant)).not.toBeNull();
  expect(t.size()).toBe(1);
});
