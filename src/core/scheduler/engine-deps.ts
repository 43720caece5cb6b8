// What the engine is built from (bootstrap.ts wires the real ones, tests/helpers/engine-harness.ts fakes).
import type { Store, Executor, Logger, Clock } from '../ports.ts';
import type { RunRow } from '../types.ts';
import type { EngineConfig } from '../config.ts';
import type { Bus } from '../events.ts';
import type { SecretsView } from '../secrets/types.ts';
import type { LogGate } from '../redact/pool.ts';
import type { Failpoints } from '../failpoints.ts';
import type { EngineTelemetry } from '../telemetry.ts';

export interface EngineDeps {
  store: Store; executors: Map<string, Executor>; clock: Clock; log: Logger; bus: Bus; config: EngineConfig;
  /** secret values for jobs, and redaction of what the engine stores (outputs, messages, result.json) */
  secrets?: SecretsView;
  /** holds an ended job until its redacted log is final (jobs with secrets), applies the log cap */
  logGate?: LogGate;
  /** called with each result.json written (provenance: the attestation beside it) */
  /** result.json was written: its SHA-256, to sign (provenance) */
  onResult?: (run: RunRow, sha256: string) => void;
  /** test-only pauses, hangs and crashes at named places (DROVER_FAILPOINTS) */
  failpoints?: Failpoints;
  /** told how long each tick took (metrics) */
  telemetry?: EngineTelemetry;
}
