// Every call from the engine into an executor goes through here, so executor code (a plugin's above
// all) can never take the server down or hang the scheduler: an async call that throws, rejects or
// outlives its time limit rejects with an ExecutorError (the engine fails the job it concerned with
// reason `executor_error`); a sync call that throws answers what "nothing known" means for that call
// and is logged; a start that resolves after its limit has its job canceled (the job already failed).
// Errors are counted per call for /metrics.
import { ExecutorError } from '../core/errors.ts';
import { lostEnd } from '../core/observations.ts';
import type { Executor, Handle, Logger, Observation, PreparedJob } from '../core/ports.ts';
import type { CallTimeouts } from './api.ts';

type AsyncCall = keyof CallTimeouts;

export interface GuardOptions {
  name: string;
  /** default limit per async call (serve --plugin-timeout) */
  timeoutMs: number;
  timeouts?: CallTimeouts;
  log: () => Logger;
  /** the executor's plugin API version: stamped on each handle it returns (`v`), since handles outlive the server */
  apiVersion?: number;
}

/** Counters of failed calls, by call (exported on /metrics). */
export type CallErrors = Record<string, number>;

const message = (e: unknown) => (e instanceof Error ? e.message : String(e)) || 'threw with no message';

export function guardExecutor(impl: Executor, o: GuardOptions): { executor: Executor; errors: CallErrors } {
  const errors: CallErrors = {};
  const fail = (call: string, e: unknown): ExecutorError => {
    errors[call] = (errors[call] ?? 0) + 1;
    return e instanceof ExecutorError ? e : new ExecutorError(o.name, call, message(e));
  };
  const limit = (call: AsyncCall) => { const t = o.timeouts?.[call]; return t === undefined ? o.timeoutMs : t; };

  /** Run an async call under its limit; `late` gets a value that arrives after the limit. */
  function timed<T>(call: AsyncCall, fn: () => Promise<T> | T, late?: (v: T) => void): Promise<T> {
    let p: Promise<T>;
    try { p = Promise.resolve(fn()); } catch (e) { return Promise.reject(fail(call, e)); }
    const ms = limit(call);
    if (ms === null) return p.catch((e) => { throw fail(call, e); });
    return new Promise<T>((resolve, reject) => {
      let over = false;
      const timer = setTimeout(() => { over = true; reject(fail(call, `did not answer within ${ms} ms`)); }, ms);
      p.then(
        (v) => { if (!over) { clearTimeout(timer); resolve(v); } else late?.(v); },
        (e) => { if (!over) { clearTimeout(timer); reject(fail(call, e)); } },
      );
    });
  }

  /** A sync call: its answer, or `dflt` (logged) when it throws. */
  function safe<T>(call: string, fn: () => T, dflt: T): T {
    try { return fn(); } catch (e) {
      const err = fail(call, e);
      o.log().error('executor call failed', { executor: o.name, call, err: err.message });
      return dflt;
    }
  }

  const cancelLate = (h: Handle) => {
    o.log().warn('a start answered after its time limit; canceling what it started', { executor: o.name });
    void timed('cancel', () => impl.cancel(h, { graceMs: 0 })).catch(() => {});
  };

  /** A handle names its executor (cancel is routed by it): always this one, whatever the code wrote;
   *  and the API version it was written under, since it is stored and read back by later servers. */
  const version = o.apiVersion ?? 1;
  const checkHandle = (call: string, h: unknown): Handle => {
    if (!h || typeof h !== 'object' || typeof (h as Handle).dir !== 'string') throw fail(call, `returned ${JSON.stringify(h) ?? 'undefined'}, not a handle ({dir, commandCount, …})`);
    return { ...(h as Handle), executor: o.name, v: version };
  };
  /** Why a stored handle cannot be given to this executor (written by a newer API version), or null.
   *  A handle without `v` predates versions: version 1. */
  const unreadable = (h: Handle): string | null => {
    const v = h?.v ?? 1;
    return v > version ? `its handle was written under executor API version ${v}; this server's '${o.name}' speaks version ${version} (a newer drover started this job)` : null;
  };

  const executor: Executor = {
    ownQueue: !!impl.ownQueue,
    adoptsFromFolder: !!impl.adoptsFromFolder,
    signalsProcessGroup: !!impl.signalsProcessGroup,
    detect: () => timed('detect', () => impl.detect()),
    start: (job: PreparedJob) => timed('start', () => impl.start(job), cancelLate).then((h) => checkHandle('start', h)),
    poll: (all) => {
      // a job whose handle this executor cannot read ends as lost (executor_error) instead of being polled
      const refused = all.flatMap((x) => { const why = unreadable(x.handle); return why ? [lostEnd(x.jobId, x.attempt, `executor_error: ${why}`)] : []; });
      const handles = refused.length ? all.filter((x) => !unreadable(x.handle)) : all;
      if (!handles.length) return Promise.resolve(refused);
      return timed('poll', () => impl.poll(handles)).then((obs) => {
        if (!Array.isArray(obs)) throw fail('poll', `returned ${typeof obs}, not an array of observations`);
        return [...refused, ...obs.filter((x) => {
          const bad = badObservation(x);
          if (bad) { fail('poll', bad); o.log().error('executor poll answered a malformed observation; ignored', { executor: o.name, problem: bad }); }
          return !bad;
        })];
      });
    },
    cancel: (handle, opts) => { const why = unreadable(handle); return why ? Promise.reject(fail('cancel', why)) : timed('cancel', () => impl.cancel(handle, opts)); },
  };
  if (impl.startMany) {
    executor.startMany = (jobs) => timed('startMany', () => impl.startMany!(jobs), (hs) => hs.forEach(cancelLate)).then((hs) => {
      if (!Array.isArray(hs) || hs.length !== jobs.length) throw fail('startMany', `returned ${Array.isArray(hs) ? hs.length : typeof hs} handles for ${jobs.length} jobs`);
      return hs.map((h) => checkHandle('startMany', h));
    });
  }
  if (impl.adopt) {
    executor.adopt = (jobId, attempt, handle): Promise<Observation> => unreadable(handle) ? Promise.reject(fail('adopt', unreadable(handle))) : timed('adopt', () => impl.adopt!(jobId, attempt, handle)).then((obs) => {
      if (!obs || typeof obs !== 'object' || !['running', 'exited', 'requeued'].includes(obs.state)) throw fail('adopt', `returned ${JSON.stringify(obs) ?? 'undefined'}, not an observation`);
      return 'handle' in obs && obs.handle ? { ...obs, handle: checkHandle('adopt', obs.handle) } as Observation : obs;
    });
  }
  if (impl.checkResources) executor.checkResources = (r) => safe('checkResources', () => impl.checkResources!(r), null);
  if (impl.admit) {
    executor.admit = (req) => {
      try { return impl.admit!(req); } catch (e) {
        const err = fail('admit', e);
        return { ok: false, fail: true, blocker: { code: 'executor_error', message: err.message } };
      }
    };
  }
  if (impl.release) executor.release = (jobId) => safe('release', () => impl.release!(jobId), undefined);
  if (impl.readmit) executor.readmit = (jobId, device) => safe('readmit', () => impl.readmit!(jobId, device), undefined);
  if (impl.pollIntervalMs) executor.pollIntervalMs = () => {
    const ms = safe('pollIntervalMs', () => impl.pollIntervalMs!(), 5000);
    return Number.isFinite(ms) && ms >= 10 ? ms : 5000;
  };
  if (impl.explain) {
    executor.explain = (jobId, handle) => {
      try { const b = impl.explain!(jobId, handle); return Array.isArray(b) ? b : []; } catch (e) {
        return [{ code: 'executor_error', message: fail('explain', e).message }];
      }
    };
  }
  if (impl.describe) executor.describe = () => safe('describe', () => impl.describe!() ?? {}, { error: `executor '${o.name}' describe() failed` });
  if (impl.metrics) executor.metrics = () => safe('metrics', () => { const m = impl.metrics!(); return Array.isArray(m) ? m.map(String) : []; }, []);
  return { executor, errors };
}

/** What is wrong with an observation an executor made, or null (notify and poll answers are checked). */
export function badObservation(o: Observation): string | null {
  if (!o || typeof o !== 'object') return 'not an object';
  if (typeof o.jobId !== 'string' || typeof o.attempt !== 'number') return 'no jobId/attempt';
  if (o.state === 'exited') return o.result && Array.isArray(o.result.commands) ? null : 'exited without a result (use exited() or lost() from drover/plugin)';
  if (o.state === 'running' || o.state === 'requeued') return null;
  return `unknown state ${JSON.stringify((o as { state?: unknown }).state)}`;
}
