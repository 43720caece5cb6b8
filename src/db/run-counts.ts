// Runs per group and status, kept in memory so a group's view (the web page's collapsed list, GET
// /groups) and its roll-up never count the runs table: a 10,000-run sweep cost 10,000 index entries per
// look. Moved only by the writers of runs (the submission insert, transitionWriter, retention GC's
// delete) and journaled per transaction level like job-counts.ts, so a rollback or savepoint puts them
// back; counted from the table at open; audit() compares them with a fresh count (engine harness).

import { TxJournal } from './tx-journal.ts';

export interface RunCountRow { group_id: string; status: string; n: number }
type Entry = { group: string; status: string; d: number };

export class RunCounts {
  private readonly groups = new Map<string, Record<string, number>>();
  private readonly journal = new TxJournal<Entry>((e) => this.apply(e.group, e.status, -e.d));

  load(rows: RunCountRow[]): void {
    this.groups.clear(); this.journal.clear();
    for (const r of rows) this.apply(r.group_id, r.status, r.n);
  }

  /** A run was inserted (from null), changed status, or deleted (to null). */
  moved(group: string, from: string | null, to: string | null): void {
    if (from) this.change(group, from, -1);
    if (to) this.change(group, to, +1);
  }

  /** Runs `fn` as one transaction level: what it moved is undone if it throws. */
  within<T>(fn: () => T): T { return this.journal.within(fn); }

  /** The group's runs by status (only statuses it has). */
  of(group: string): Record<string, number> { return { ...this.groups.get(group) }; }

  audit(rows: RunCountRow[]): string | null {
    const fresh = new RunCounts();
    fresh.load(rows);
    for (const g of new Set([...this.groups.keys(), ...fresh.groups.keys()])) {
      const a = JSON.stringify(sorted(this.groups.get(g))), b = JSON.stringify(sorted(fresh.groups.get(g)));
      if (a !== b) return `runs of group ${g}: kept ${a}, table ${b}`;
    }
    return null;
  }

  private change(group: string, status: string, d: number): void {
    this.apply(group, status, d);
    this.journal.record({ group, status, d });
  }

  private apply(group: string, status: string, d: number): void {
    const c = this.groups.get(group) ?? {};
    const n = (c[status] ?? 0) + d;
    if (n === 0) delete c[status]; else c[status] = n;
    if (Object.keys(c).length === 0) this.groups.delete(group); else this.groups.set(group, c);
  }
}

const sorted = (c: Record<string, number> | undefined) => Object.fromEntries(Object.entries(c ?? {}).sort(([a], [b]) => (a < b ? -1 : 1)));
