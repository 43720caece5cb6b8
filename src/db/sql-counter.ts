// Counts the SQL statements the server executes (DROVER_SQL_STATS=1: a benchmarking aid, off by
// default because it wraps every statement call). BEGIN/COMMIT and SAVEPOINT/RELEASE count as two
// per transaction; every run/get/all/values of a prepared statement and every exec as one.
// bench/statements.ts reads the totals from /metrics: drover_sqlite_statements_total, and per statement
// text (placeholders, not values) drover_sqlite_statement_calls_total{sql}.
import type { Database, Statement } from 'bun:sqlite';

export interface SqlCounter { readonly statements: number; readonly bySql: ReadonlyMap<string, number> }

const CALLS = ['run', 'get', 'all', 'values', 'iterate'] as const;
const TX = 'BEGIN … COMMIT (or SAVEPOINT … RELEASE)';

/** Start counting on `db`: only statements prepared after this call are seen (call it right after opening). */
export function countStatements(db: Database): SqlCounter {
  const bySql = new Map<string, number>();
  const c = { statements: 0, bySql };
  const count = (sql: string, n = 1) => { c.statements += n; bySql.set(sql, (bySql.get(sql) ?? 0) + n); };
  const wrapped = new WeakSet<Statement>();
  const wrap = (st: Statement, sql: string): Statement => {
    if (wrapped.has(st)) return st; // bun caches query(): the same statement comes back
    wrapped.add(st);
    const key = sql.replace(/\s+/g, ' ').trim().slice(0, 120);
    for (const m of CALLS) {
      const f = (st as unknown as Record<string, (...a: unknown[]) => unknown>)[m]?.bind(st);
      if (f) (st as unknown as Record<string, unknown>)[m] = (...a: unknown[]) => { count(key); return f(...a); };
    }
    return st;
  };
  const prepare = db.prepare.bind(db), query = db.query.bind(db), exec = db.exec.bind(db), transaction = db.transaction.bind(db);
  const d = db as unknown as Record<string, unknown>;
  d.prepare = (sql: string, ...rest: unknown[]) => wrap((prepare as (...a: unknown[]) => Statement)(sql, ...rest), sql);
  d.query = (sql: string) => wrap(query(sql) as Statement, sql);
  d.exec = d.run = (sql: string, ...rest: unknown[]) => { count(sql.slice(0, 120)); return (exec as (...a: unknown[]) => unknown)(sql, ...rest); };
  d.transaction = (fn: (...a: unknown[]) => unknown) => {
    const t = transaction(fn);
    return (...a: unknown[]) => { count(TX, 2); return t(...a); };
  };
  return c;
}
