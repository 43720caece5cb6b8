// Rows of live runs, stages and groups, kept between reads: the scheduler reads the same run, its stages
// and its group for every job it starts or ends. Only rows that can still change are kept (a terminal
// row is read once, and only terminal rows are ever deleted, by GC); every write to those tables in
// this process drops what it touches (transitionWriter, the few other writers in store.ts), and a
// rolled-back transaction drops everything, since a row read inside it may never have been committed.
// Callers get copies: a caller that changes a row it got never changes the cache.

const CAP = 4096;

export class RowCache<T extends object> {
  private readonly rows = new Map<string, T>();

  constructor(private readonly live: (row: T) => boolean) {}

  get(key: string, load: () => T | null): T | null {
    const hit = this.rows.get(key);
    if (hit) return { ...hit };
    const row = load();
    if (row && this.live(row)) this.keep(key, row);
    return row;
  }

  drop(key: string): void { this.rows.delete(key); }
  clear(): void { this.rows.clear(); }

  private keep(key: string, row: T): void {
    if (this.rows.size >= CAP) this.rows.clear();
    this.rows.set(key, { ...row });
  }
}

/** The same for lists (the stages of a run), kept while `live` says so of the list. */
export class ListCache<T extends object> {
  private readonly lists = new Map<string, T[]>();

  constructor(private readonly live: (rows: T[]) => boolean) {}

  get(key: string, load: () => T[]): T[] {
    const hit = this.lists.get(key);
    if (hit) return hit.map((r) => ({ ...r }));
    const rows = load();
    if (this.live(rows)) {
      if (this.lists.size >= CAP) this.lists.clear();
      this.lists.set(key, rows.map((r) => ({ ...r })));
    }
    return rows;
  }

  drop(key: string): void { this.lists.delete(key); }
  clear(): void { this.lists.clear(); }
}
