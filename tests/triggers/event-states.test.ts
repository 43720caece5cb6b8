// The event (topic message) state machine, in the style of tests/core/states.test.ts: every from×to
// pair against the table, the documented edges, terminal states; and the guarded writes of the
// delivery repo (illegal edge refused, stale `from` loses, no event consumed twice).
import { test, expect, describe, beforeEach, afterEach } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventMachine, EVENT_STATUSES, EVENT_TRANSITIONS, type EventStatus } from '../../src/core/states/index.ts';
import { eventStatus } from '../../src/core/triggers/index.ts';
import { openDatabase } from '../../src/db/open.ts';
import { SqliteStore } from '../../src/db/store.ts';
import type { IllegalTransition } from '../../src/db/repos/transitions.ts';

const terminal: EventStatus[] = ['consumed', 'failed'];
const required: [EventStatus, EventStatus][] = [
  ['pending', 'reserved'], // a run claims it
  ['reserved', 'consumed'], // the run succeeded
  ['reserved', 'pending'], // the run failed and retries remain, or the run is gone (recovery)
  ['reserved', 'failed'], // retries used up / canceled
  ['pending', 'failed'], // no run can be made (unsubscribed, refused)
];
const forbidden: [EventStatus, EventStatus][] = [
  ['pending', 'consumed'], // only a run that succeeded consumes
  ['consumed', 'pending'], ['consumed', 'reserved'], ['consumed', 'failed'],
  ['failed', 'pending'], ['failed', 'reserved'], ['failed', 'consumed'],
];

describe('event state machine', () => {
  test('the table has a row for every status and only names known statuses', () => {
    expect(Object.keys(EVENT_TRANSITIONS).sort()).toEqual([...EVENT_STATUSES].sort());
    for (const [from, tos] of Object.entries(EVENT_TRANSITIONS)) {
      for (const to of tos) expect(EVENT_STATUSES).toContain(to);
      expect(tos).not.toContain(from as never);
      expect(new Set(tos).size).toBe(tos.length);
    }
    expect(eventMachine.entity).toBe('event');
    expect(eventMachine.statuses).toEqual(EVENT_STATUSES);
  });

  test('canTransition equals membership in the table, for every from×to pair', () => {
    let pairs = 0;
    for (const from of EVENT_STATUSES) {
      for (const to of EVENT_STATUSES) {
        expect(eventMachine.canTransition(from, to)).toBe((EVENT_TRANSITIONS[from] as readonly string[]).includes(to));
        pairs++;
      }
    }
    expect(pairs).toBe(16);
    expect(eventMachine.canTransition('bogus' as EventStatus, 'pending')).toBe(false);
    expect(eventMachine.canTransition('pending', 'bogus' as EventStatus)).toBe(false);
  });

  test('the documented edges are allowed and the ruled-out ones refused', () => {
    for (const [from, to] of required) expect(`${from}→${to}:${eventMachine.canTransition(from, to)}`).toBe(`${from}→${to}:true`);
    for (const [from, to] of forbidden) expect(`${from}→${to}:${eventMachine.canTransition(from, to)}`).toBe(`${from}→${to}:false`);
  });

  test('terminal states accept nothing; every other state can reach one', () => {
    for (const s of EVENT_STATUSES) expect(eventMachine.isTerminal(s)).toBe(terminal.includes(s));
    for (const from of terminal) expect(EVENT_STATUSES.filter((to) => eventMachine.canTransition(from, to))).toEqual([]);
    for (const s of EVENT_STATUSES.filter((x) => !terminal.includes(x))) {
      const seen = new Set<string>([s]);
      const todo: EventStatus[] = [s];
      while (todo.length) for (const n of EVENT_TRANSITIONS[todo.pop()!]) if (!seen.has(n)) { seen.add(n); todo.push(n); }
      expect(terminal.some((t) => seen.has(t))).toBe(true);
    }
  });

  test("an event's status sums up its deliveries", () => {
    const d = (...s: EventStatus[]) => s.map((status) => ({ status }));
    expect(eventStatus(d())).toBe('unrouted');
    expect(eventStatus(d('pending', 'consumed'))).toBe('pending');
    expect(eventStatus(d('reserved', 'pending'))).toBe('reserved');
    expect(eventStatus(d('consumed', 'consumed'))).toBe('consumed');
    expect(eventStatus(d('consumed', 'failed'))).toBe('failed');
  });
});

describe('guarded delivery writes', () => {
  let dir: string;
  let sqlite: ReturnType<typeof openDatabase>['sqlite'];
  let store: SqliteStore;
  let illegal: IllegalTransition[];
  const at = '2025-01-01T00:00:00.000Z';

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'drover-event-states-'));
    ({ sqlite } = openDatabase(join(dir, 'drover.db')));
    illegal = [];
    store = new SqliteStore(sqlite, (e) => illegal.push(e));
    const seq = store.triggers.eventInsert({ id: 'e_1', topic: 't', payload: '{}', dedupe_key: 'k', created_at: at });
    store.triggers.deliveryInsert({ event_id: 'e_1', event_seq: seq, pipeline: 'p', status: 'pending', updated_at: at });
  });
  afterEach(() => { sqlite.close(); rmSync(dir, { recursive: true, force: true }); });

  const t = (from: EventStatus, to: EventStatus, patch = {}) => store.triggers.deliveryTransition('e_1', 'p', from, to, patch, at);

  test('a legal write applies with its patch; a stale `from` loses and changes nothing', () => {
    expect(t('pending', 'reserved', { runs: 1, run_id: 'r_1' })).toBe(true);
    expect(store.triggers.deliveryGet('e_1', 'p')).toMatchObject({ status: 'reserved', runs: 1, run_id: 'r_1' });
    const row = store.triggers.deliveryGet('e_1', 'p');
    expect(t('pending', 'reserved', { runs: 2, run_id: 'r_2' })).toBe(false); // a second claimer lost the race
    expect(store.triggers.deliveryGet('e_1', 'p')).toEqual(row);
    expect(illegal).toEqual([]);
  });

  test('consumed once: a second consume loses, and nothing leaves consumed', () => {
    expect(t('pending', 'reserved', { runs: 1, run_id: 'r_1' })).toBe(true);
    expect(t('reserved', 'consumed')).toBe(true);
    expect(t('reserved', 'consumed')).toBe(false);
    expect(t('consumed', 'pending')).toBe(false);
    expect(illegal.map((e) => `${e.entity} ${e.from}→${e.to}`)).toEqual(['event consumed→pending']);
    expect(store.triggers.deliveryGet('e_1', 'p')!.status).toBe('consumed');
  });

  test('an illegal edge is refused before any SQL runs', () => {
    expect(t('pending', 'consumed')).toBe(false);
    expect(illegal).toHaveLength(1);
    expect(store.triggers.deliveryGet('e_1', 'p')!.status).toBe('pending');
  });

  test('a repeated dedupe key on the same topic is refused by the database too', () => {
    expect(() => store.triggers.eventInsert({ id: 'e_2', topic: 't', payload: '{}', dedupe_key: 'k', created_at: at })).toThrow(/UNIQUE/);
    expect(store.triggers.eventInsert({ id: 'e_3', topic: 'other', payload: '{}', dedupe_key: 'k', created_at: at })).toBeGreaterThan(0);
    expect(store.triggers.eventByDedupe('t', 'k')!.id).toBe('e_1');
  });
});
