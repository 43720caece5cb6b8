// Queued and running jobs per group and per executor, kept in memory so GET /queue and the scheduler
// never count the jobs table. Moved only by the two writers that change a job's status (the
// submission insert and transitionWriter), and journaled like the slot ledger: a rolled-back
// transaction or savepoint puts the counts back exactly. Built from the database when the store opens;
// audit() recounts the table (the engine harness checks it after every tick).

export interface Tally { queued: number; running: number }
export interface CountRow { group_id: string; executor: string; status: string; n: number }

import { TxJournal } from './tx-journal.ts';

const COUNTED = new Set(['queued', 'running']);
type Entry = { group: string; executor: string; status: 'queued' | 'running'; d: number };

export class JobCounts {
  private readonly groups = new Map<string, Tally>();
  private readonly executors = new Map<string, Tally>();
  /** per group and executor (key: group NUL executor) */
  private readonly pairs = new Map<string, Tally>();
  private readonly all: Tally = { queued: 0, running: 0 };
  private readonly journal = new TxJournal<Entry>((e) => this.apply(e.group, e.executor, e.status, -e.d));

  /** Start over from a count of the table (at open). */
  load(rows: CountRow[]): void {
    this.groups.clear(); this.executors.clear(); this.pairs.clear(); this.all.queued = 0; this.all.running = 0; this.journal.clear();
    for (const r of rows) if (COUNTED.has(r.status)) this.apply(r.group_id, r.executor, r.status as Entry['status'], r.n);
  }

  /** A job was inserted with `status`, or changed `from` → `to` (null: not there). */
  moved(group: string, executor: string, from: string | null, to: string | null): void {
    if (from && COUNTED.has(from)) this.change(group, executor, from as Entry['status'], -1);
    if (to && COUNTED.has(to)) this.change(group, executor, to as Entry['status'], +1);
  }

  /** Runs `fn` as one transaction level: what it moved is undone if it throws. */
  within<T>(fn: () => T): T { return this.journal.within(fn); }

  group(id: string): Tally { const t = this.groups.get(id); return t ? { ...t } : { queued: 0, running: 0 }; }
  executor(name: string): Tally { const t = this.executors.get(name); return t ? { ...t } : { queued: 0, running: 0 }; }
  /** the group's jobs on that executor */
  of(group: string, executor: string): Tally { const t = this.pairs.get(`${group}\0${executor}`); return t ? { ...t } : { queued: 0, running: 0 }; }
  get total(): Tally { return { ...this.all }; }
  /** Groups with queued or running jobs, by id. */
  byGroup(): [string, Tally][] { return [...this.groups].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([id, t]) => [id, { ...t }]); }
  byExecutor(): [string, Tally][] { return [...this.executors].map(([n, t]) => [n, { ...t }]); }

  /** What differs from a fresh count of the table (null: nothing). */
  audit(rows: CountRow[]): string | null {
    const fresh = new JobCounts();
    fresh.load(rows);
    const diff = (what: string, a: Map<string, Tally>, b: Map<string, Tally>) => {
      for (const k of new Set([...a.keys(), ...b.keys()])) {
        const x = a.get(k) ?? { queued: 0, running: 0 }, y = b.get(k) ?? { queued: 0, running: 0 };
        if (x.queued !== y.queued || x.running !== y.running) return `${what} ${k}: kept ${x.queued} queued/${x.running} running, table ${y.queued}/${y.running}`;
      }
      return null;
    };
    return diff('group', this.groups, fresh.groups) ?? diff('executor', this.executors, fresh.executors) ?? diff('group+executor', this.pairs, fresh.pairs)
      ?? (this.all.queued !== fresh.all.queued || this.all.running !== fresh.all.running
        ? `total: kept ${this.all.queued}/${this.all.running}, table ${fresh.all.queued}/${fresh.all.running}` : null);
  }

  private change(group: string, executor: string, status: Entry['status'], d: number): void {
    this.apply(group, executor, status, d);
    this.journal.record({ group, executor, status, d });
  }

  private apply(group: string, executor: string, status: Entry['status'], d: number): void {
    bump(this.groups, group, status, d);
    bump(this.executors, executor, status, d);
    bump(this.pairs, `${group}\0${executor}`, status, d);
    this.all[status] += d;
  }
}

function bump(m: Map<string, Tally>, key: string, status: keyof Tally, d: number): void {
  const t = m.get(key) ?? { queued: 0, running: 0 };
  t[status] += d;
  if (t.queued === 0 && t.running === 0) m.delete(key); else m.set(key, t);
}
