// Guarded status writers: UPDATE … WHERE id=? AND status=? [AND attempt=?]. A lost race changes
// nothing and returns false; an illegal transition is a bug: refused before any SQL runs, and thrown.
import type { Database } from 'bun:sqlite';
import type { StatusEvent } from '../../core/types.ts';
import { jobMachine, stageMachine, runMachine, groupMachine } from '../../core/states/index.ts';

type Machine = { entity: string; canTransition(from: string, to: string): boolean };
const COLUMNS: Record<string, readonly string[]> = {
  jobs: ['reason', 'message', 'exit_code', 'queued_at', 'started_at', 'ended_at', 'deadline_at', 'backoff_until', 'stop_reason', 'handle', 'outputs', 'attempt', 'failures', 'lost', 'lease_token', 'lease_expires_at', 'device'],
  stages: ['reason', 'message', 'outputs', 'started_at', 'ended_at'],
  runs: ['reason', 'message', 'started_at', 'ended_at'],
  groups: ['ended_at', 'cancel_requested'],
};

/** what the kept counts need of a changed row */
const RETURNING: Record<string, string> = { jobs: ' RETURNING group_id, executor', runs: ' RETURNING group_id' };

const FINAL_MARKER = ['final_token', 'final_since', 'final_until'];

export class IllegalTransition extends Error {
  constructor(readonly entity: string, readonly id: string, readonly from: string, readonly to: string) {
    super(`${entity} ${id}: illegal transition ${from} → ${to}`);
  }
}

/** `moved` hears of each job and run status change, with its group (and a job's executor): the kept counts. */
export function transitionWriter(db: Database, onIllegal: (e: IllegalTransition) => void, event: (e: Omit<StatusEvent, 'seq'>) => void,
  moved: (table: 'jobs' | 'runs', row: { group_id: string; executor?: string }, from: string, to: string) => void = () => {}) {
  const cache = new Map<string, ReturnType<Database['prepare']>>();
  const machines: Record<string, Machine> = { jobs: jobMachine, stages: stageMachine, runs: runMachine, groups: groupMachine };
  const kinds: Record<string, string> = { jobs: 'job', stages: 'stage', runs: 'run', groups: 'group' };

  function stmt(table: string, keys: string[], withAttempt: boolean) {
    const sig = `${table}|${keys.join(',')}|${withAttempt}`;
    let s = cache.get(sig);
    if (!s) {
      const sets = ['status = $to', ...keys.map((k) => `${k} = $${k}`)].join(', ');
      s = db.prepare(`UPDATE ${table} SET ${sets} WHERE id = $id AND status = $from${withAttempt ? ' AND attempt = $cur_attempt' : ''}${RETURNING[table] ?? ''}`);
      cache.set(sig, s);
    }
    return s;
  }

  return function transition(
    table: 'jobs' | 'stages' | 'runs' | 'groups', id: string, from: string, to: string,
    patch: Record<string, unknown> = {}, opts: { attempt?: number; runId?: string | null; at: string },
  ): boolean {
    if (!machines[table]!.canTransition(from, to)) {
      const err = new IllegalTransition(machines[table]!.entity, id, from, to);
      onIllegal(err);
      throw err; // a bug: the caller's transaction rolls back rather than write half a change
    }
    const allowed = COLUMNS[table]!;
    const keys = Object.keys(patch).filter((k) => allowed.includes(k));
    // whatever ends a running attempt (finalization, reaper, backstop, retry) releases its finalization marker
    if (table === 'jobs' && from === 'running') keys.push(...FINAL_MARKER.filter((k) => !keys.includes(k)));
    keys.sort();
    const params: Record<string, unknown> = { id, from, to };
    for (const k of keys) params[k] = patch[k] ?? null;
    if (opts.attempt !== undefined) params.cur_attempt = opts.attempt;
    const s = stmt(table, keys, opts.attempt !== undefined);
    if (table === 'jobs' || table === 'runs') {
      const row = s.get(params as never) as { group_id: string; executor?: string } | null;
      if (!row) return false;
      moved(table, row, from, to);
    } else if (s.run(params as never).changes !== 1) return false;
    event({ kind: kinds[table]! as StatusEvent['kind'], id, run_id: opts.runId ?? null, status: to, at: opts.at });
    return true;
  };
}
