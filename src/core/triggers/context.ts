// What the trigger modules share: the engine (submit goes through it), its store, a logger, the clock;
// and the latest registered spec of each pipeline, which is the one whose triggers count.
import type { Engine } from '../scheduler/engine.ts';
import type { Clock, Logger, Store } from '../ports.ts';
import type { PipelineSpec } from '../spec/index.ts';

export interface TriggerCtx { engine: Engine; store: Store; log: Logger; clock: Clock }

/** A pipeline's latest version; spec is null when it no longer validates on this server (logged once). */
export interface LatestSpec { name: string; version: number; created_at: string; spec: PipelineSpec | null }
