// What every route gets: the core's narrow facade (never the engine or its whole store), the logger, daemon facts.
import type { CoreFacade } from '../core/facade.ts';
import type { Logger } from '../core/ports.ts';
import type { AgentBroker } from '../core/agents/broker.ts';
import type { SecretStore } from '../core/secrets/store.ts';
import type { AuditRepo } from '../core/secrets/types.ts';
import type { GarbageCollector } from '../core/gc/collector.ts';
import type { Attestor } from '../core/provenance/attest.ts';
import type { DroverMetrics } from '../metrics/drover.ts';
import type { AllocManager } from '../core/alloc/manager.ts';
import type { Tickets } from '../ws/tickets.ts';

export interface ServerDeps {
  core: CoreFacade;
  log: Logger;
  version: string;
  daemon: { pid: number; started_at: string; heartbeatAt(): string };
  maxBody: number;
  broker: AgentBroker;
  /** requests per second per token (0: no limit) */
  rateLimit?: number;
  /** set once SIGTERM arrived: new submits and claims get 503 */
  shuttingDown?: () => boolean;
  /** the secret store (routes/secrets.ts; every answer is redacted with it) */
  secrets?: SecretStore;
  /** who did what (routes record into it; GET /audit reads it) */
  audit?: AuditRepo;
  gc?: GarbageCollector;
  attestor?: Attestor;
  /** Prometheus metrics (rendered by GET /metrics; HTTP timings recorded by middleware) */
  metrics?: DroverMetrics;
  /** allocation queues (routes/alloc.ts) */
  alloc?: AllocManager;
  /** one-time WebSocket tickets (POST /ws-ticket; the hub redeems them) */
  tickets?: Tickets;
}

export { limitOf, cursorOf } from './query.ts';
