// INSERT of many rows with few statements: rows are bound in chunks of CHUNK rows per statement (each
// statement prepared once), the last partial chunk with a statement of its own size (kept too). A
// 100,000-job submission is 1,000 statements instead of 100,000: binding and stepping dominate there.
import type { Database, SQLQueryBindings, Statement } from 'bun:sqlite';

/** rows per statement: 100 rows x 14 columns stays far below SQLite's 32,766 bound variables */
export const CHUNK = 100;
/** rows between two young-generation collections (see collectEvery) */
const ROWS_PER_COLLECTION = 20_000;
let rowsSinceCollection = 0;

/** bun:sqlite's binding and row reading allocate mostly outside the collector's sight, so a loop over
 *  100,000 rows grew the server by 100–200 MB of garbage before a collection came; a young-generation
 *  collection every 20,000 rows keeps that near 20 MB and costs a few ms. Call with the rows just done. */
export function collectEvery(rows: number): void {
  if ((rowsSinceCollection += rows) >= ROWS_PER_COLLECTION) { rowsSinceCollection = 0; Bun.gc(false); }
}

/** A statement's rows one at a time (a cursor), collecting as it goes (collectEvery). */
export function* eachRow<T>(rows: IterableIterator<unknown>): Generator<T> {
  for (const r of rows) { yield r as T; collectEvery(1); }
}

export interface MultiInsert {
  /** one row's values, in the order of the columns */
  add(...values: SQLQueryBindings[]): void;
  /** write the rows added since the last flush (call before anything reads them) */
  flush(): void;
  /** forget rows not flushed (after a failure: the next submission must not write them) */
  reset(): void;
}

export function multiInsert(db: Database, table: string, columns: readonly string[], chunk = CHUNK): MultiInsert {
  const tuple = `(${columns.map(() => '?').join(', ')})`;
  const prepare = (rows: number) => db.prepare(`INSERT INTO ${table} (${columns.join(', ')}) VALUES ${Array(rows).fill(tuple).join(', ')}`);
  const statements = new Map<number, Statement>();
  const statement = (rows: number) => {
    let s = statements.get(rows);
    if (!s) statements.set(rows, (s = prepare(rows)));
    return s;
  };
  let values: SQLQueryBindings[] = [];
  let rows = 0;
  const write = () => {
    const out = values, n = rows;
    values = []; rows = 0; // (first: a failing statement leaves nothing behind for the next call)
    statement(n).run(...out);
    collectEvery(n);
  };
  return {
    add(...row) {
      if (row.length !== columns.length) throw new Error(`DroverInternal<multiInsert> ${table}: ${row.length} values for ${columns.length} columns`);
      for (const v of row) values.push(v);
      if (++rows === chunk) write();
    },
    flush() { if (rows > 0) write(); },
    reset() { values = []; rows = 0; },
  };
}
