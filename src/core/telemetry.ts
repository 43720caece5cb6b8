// What the scheduler core reports about its own work, for whoever watches (src/metrics). A narrow port:
// the core calls it and knows nothing of Prometheus or HTTP. Job outcomes need no hook: they are the
// status events on the bus.
export interface EngineTelemetry {
  /** one scheduler tick took this many seconds */
  tick(seconds: number): void;
}
