// Schedule arithmetic with an owned clock: which occurrences are due, which were missed while the
// server was down and what catch_up makes of them, the cap, and croner's verdict on expressions.
import { test, expect, describe } from 'bun:test';
import { checkCron, dueOccurrences, nextFires, CATCH_UP_CAP } from '../../src/core/triggers/index.ts';
import { cronOf } from '../../src/core/triggers/cron.ts';
import { DroverError } from '../../src/core/errors.ts';

const T0 = Date.parse('2025-01-01T00:00:00.000Z');
const S = 1000;
const everySecond = cronOf({ cron: '* * * * * *', timezone: 'UTC' });

describe('dueOccurrences', () => {
  test('live occurrences after the last handled one all fire, oldest first', () => {
    const d = dueOccurrences(everySecond, T0, T0 + 3 * S + 500, T0 - 60 * S, 'none');
    expect(d.fires).toEqual([{ ms: T0 + S, missed: false }, { ms: T0 + 2 * S, missed: false }, { ms: T0 + 3 * S, missed: false }]);
    expect(d.through).toBe(T0 + 3 * S);
    expect(d.dropped).toBe(0);
  });

  test('nothing is due before the next occurrence', () => {
    const d = dueOccurrences(everySecond, T0, T0 + 999, T0 - 60 * S, 'all');
    expect(d.fires).toEqual([]);
    expect(d.through).toBeNull();
  });

  // handled through T0; the server was down until T0 + 5.5 s; now is T0 + 6.2 s
  const started = T0 + 5.5 * S, now = T0 + 6.2 * S;
  test('catch_up none: the missed occurrences are dropped, the live one fires', () => {
    const d = dueOccurrences(everySecond, T0, now, started, 'none');
    expect(d.fires).toEqual([{ ms: T0 + 6 * S, missed: false }]);
    expect(d.dropped).toBe(5); // T0+1 … T0+5
  });
  test('catch_up last: only the latest missed occurrence fires', () => {
    const d = dueOccurrences(everySecond, T0, now, started, 'last');
    expect(d.fires).toEqual([{ ms: T0 + 5 * S, missed: true }, { ms: T0 + 6 * S, missed: false }]);
    expect(d.dropped).toBe(4);
  });
  test('catch_up all: one run per missed occurrence', () => {
    const d = dueOccurrences(everySecond, T0, now, started, 'all');
    expect(d.fires.map((f) => [(f.ms - T0) / S, f.missed])).toEqual([[1, true], [2, true], [3, true], [4, true], [5, true], [6, false]]);
    expect(d.through).toBe(T0 + 6 * S);
  });
  test('catch_up all never makes more than CATCH_UP_CAP runs: the latest ones', () => {
    const longStart = T0 + 10_000 * S + 500; // down for almost three hours
    const d = dueOccurrences(everySecond, T0, longStart, longStart, 'all');
    const missed = d.fires.filter((f) => f.missed);
    expect(missed).toHaveLength(CATCH_UP_CAP);
    expect(missed[0]!.ms).toBe(T0 + (10_001 - CATCH_UP_CAP) * S);
    expect(missed.at(-1)!.ms).toBe(T0 + 10_000 * S);
    expect(d.fires.length - missed.length).toBe(0); // the next live one is at T0 + 10,001 s
    expect(d.droppedMore).toBe(true);
  });
  test('a daily schedule: the occurrence missed during a two-day downtime is made up once with last', () => {
    const daily = cronOf({ cron: '0 3 * * *', timezone: 'Europe/Berlin' });
    const handled = Date.parse('2025-06-01T01:00:00Z'); // 03:00 Berlin (CEST)
    const back = Date.parse('2025-06-03T12:00:00Z');
    const d = dueOccurrences(daily, handled, back, back, 'last');
    expect(d.fires).toEqual([{ ms: Date.parse('2025-06-03T01:00:00Z'), missed: true }]);
    expect(d.dropped).toBe(1);
  });
});

describe('cron expressions', () => {
  test('a bad expression is an invalid_spec error that names it', () => {
    for (const bad of ['61 * * * *', 'a b c d e', '* * * * 9']) {
      let err: unknown;
      try { checkCron({ cron: bad }); } catch (e) { err = e; }
      expect(err).toBeInstanceOf(DroverError);
      expect((err as DroverError).code).toBe('invalid_spec');
      expect((err as DroverError).message).toContain(`'${bad}'`);
      expect((err as DroverError).details.path).toBe('schedule.cron');
    }
  });
  test('an expression that can never fire is refused', () => {
    expect(() => checkCron({ cron: '0 0 30 2 *' })).toThrow(/never fires/);
  });
  test('next fire times follow the time zone', () => {
    expect(nextFires({ cron: '0 3 * * *', timezone: 'Europe/Berlin' }, Date.parse('2025-03-29T00:00:00Z'))).toEqual([
      '2025-03-29T02:00:00.000Z', '2025-03-30T01:00:00.000Z', '2025-03-31T01:00:00.000Z', // DST starts on the 30th
    ]);
  });
});
