// SQL of the audit log: who (token name + role) did what (action) to what (target), when. Append-only.
import type { Database } from 'bun:sqlite';
import type { AuditEntry, AuditRepo } from '../../core/secrets/types.ts';

/** `tx`: the store's transaction, so an entry joins the group commit an HTTP answer waits for. */
export function auditRepo(db: Database, tx: <T>(fn: () => T) => T = (fn) => fn()): AuditRepo {
  const ins = db.prepare('INSERT INTO audit (at, token_id, token_name, role, action, target, details) VALUES ($at, $token_id, $token_name, $role, $action, $target, $details)');
  const all = db.prepare('SELECT * FROM audit WHERE seq < ? ORDER BY seq DESC LIMIT ?');
  const byAction = db.prepare('SELECT * FROM audit WHERE seq < ? AND action = ? ORDER BY seq DESC LIMIT ?');
  return {
    insert: (e) => { tx(() => ins.run(e as never)); },
    list: ({ limit, cursor, action }) => {
      const before = cursor ?? Number.MAX_SAFE_INTEGER;
      return (action ? byAction.all(before, action, limit) : all.all(before, limit)) as AuditEntry[];
    },
  };
}
