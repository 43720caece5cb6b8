// What the HTTP routes, the WebSocket hub and /metrics see of the core: named reads and actions. They
// never hold the engine or its whole store, so every change still goes through engine.transact
// (control.ts) and a route cannot reach the slot ledger, the executors or a write it has no business with.
import type { Engine } from './scheduler/engine.ts';
import type { LoadedExecutor, Store } from './ports.ts';
import type { GroupRow, JobRow, RunRow } from './types.ts';
import type { ValidateOptions } from './spec/index.ts';
import { submit, cancelRun, cancelJob, cancelGroup, pauseGroup, resumeGroup, retryRun } from './scheduler/control.ts';
import { explain } from './scheduler/explain.ts';
import { attemptsView, groupView, jobView, runView } from './views.ts';
import { groupResults } from './results.ts';
import { pipelineTriggers } from './triggers/service.ts';

/** The reads the API serves as they are (lists, single rows, attempts, events, graph inputs). */
export type ApiReads = Pick<Store,
  'getRun' | 'getJob' | 'getGroup' | 'listRuns' | 'listJobs' | 'listGroups' | 'stagesOfRun' |
  'jobsOfRun' | 'queueCounts' | 'writeMark' | 'eventsSince' | 'lastEventSeq'>;
/** Tokens: the auth middleware and the admin token routes. */
export type ApiAccess = Pick<Store, 'tokenByHash' | 'listTokens' | 'insertToken' | 'deleteToken'>;
/** The pipeline registry (versions of specs), not scheduler state. */
export type ApiPipelines = Pick<Store, 'pipelinesList' | 'pipelineVersions' | 'pipelineLatest' | 'pipelineInsert'>;

export interface ExecutorLoad {
  name: string; slots: number; used: number; facts: Record<string, unknown>;
  /** 'built-in' or the plugin file; the plugin API version it was written for */
  source: string; apiVersion: number | null;
  /** why its backend is missing (detect), or null while it is available */
  unavailable: string | null;
  /** its calls that threw, hung or answered nonsense, by call */
  callErrors: Readonly<Record<string, number>>;
}

export function coreFacade(eng: Engine) {
  const { store } = eng;
  const reads: ApiReads = store;
  return {
    reads,
    access: store as ApiAccess,
    pipelines: store as ApiPipelines,
    /** an acknowledgement leaves only once the change is on stable storage */
    durable: () => store.durable(),
    costOfRun: (id: string) => store.triggers.costOfRun(id),
    costOfGroup: (id: string) => store.triggers.costOfGroup(id),
    topicEvents: (topic: string, limit: number, cursor: number | null) => store.triggers.eventsOfTopic(topic, limit, cursor),
    topicEvent: (id: string) => store.triggers.eventGet(id),

    runView: (r: RunRow) => runView(eng, r),
    jobView: (j: JobRow) => jobView(eng, j),
    attempts: (j: JobRow) => attemptsView(eng.store, j),
    groupView: (g: GroupRow) => groupView(store, g),
    results: (groupId: string, sort?: string) => groupResults(store, groupId, sort),
    why: (j: JobRow) => explain(eng, j),
    pipelineTriggers: (name: string) => pipelineTriggers({ store, engine: eng }, name),
    /** where a job's files are and how many commands it has (log tails); null when its run is gone */
    jobFiles: (j: JobRow): { dir: string; commandCount: number } | null => {
      try { return { dir: eng.jobDir(j), commandCount: eng.commandCount(j) }; } catch { return null; }
    },

    submit: (input: Parameters<typeof submit>[1], opts?: Parameters<typeof submit>[2]) => submit(eng, input, opts),
    cancelRun: (id: string) => cancelRun(eng, id),
    cancelJob: (id: string) => cancelJob(eng, id),
    cancelGroup: (id: string) => cancelGroup(eng, id),
    pauseGroup: (id: string) => pauseGroup(eng, id),
    resumeGroup: (id: string) => resumeGroup(eng, id),
    retryRun: (id: string) => retryRun(eng, id),
    validateOptions: (): ValidateOptions => eng.validateOptions(),

    /** the scheduler's load: max_parallel, running jobs, and each executor's slots, use and own facts */
    load() {
      const executors: ExecutorLoad[] = [...eng.executors].map(([name, ex]) => {
        const loaded = ex as Partial<LoadedExecutor>;
        return {
          name, slots: eng.slots(name), used: eng.ledger.running(name), facts: ex.describe?.() ?? {},
          source: loaded.source ?? 'built-in', apiVersion: loaded.apiVersion ?? null,
          unavailable: eng.capacity.unavailable.get(name) ?? null, callErrors: loaded.callErrors ?? {},
        };
      });
      return { maxParallel: eng.config.maxParallel, running: eng.ledger.total, executors, storageError: eng.storageError };
    },
    /** each executor's own /metrics lines */
    executorMetrics: (): string[] => [...eng.executors.values()].flatMap((ex) => ex.metrics?.() ?? []),
    /** jobs the reaper acted on, by tier (/metrics) */
    reaperCounters: (): Record<string, number> => ({ ...eng.reaper }),
  };
}

export type CoreFacade = ReturnType<typeof coreFacade>;
