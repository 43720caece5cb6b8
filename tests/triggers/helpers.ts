// Helpers for the trigger tests: runs of a pipeline (from the API's run records), registering specs,
// fire times, and a restart on the same data dir.
import { TestServer, waitFor } from '../helpers/server.ts';

export async function runsOf(s: TestServer, pipeline: string): Promise<any[]> {
  const items: any[] = [];
  let cursor: string | null = null;
  do {
    const page: any = await s.api('GET', `/runs?pipeline=${pipeline}&limit=1000${cursor ? `&cursor=${cursor}` : ''}`);
    if (page.status !== 200) throw new Error(`GET /runs: ${page.status} ${page.text}`);
    items.push(...page.body.items);
    cursor = page.body.next_cursor;
  } while (cursor);
  return items.reverse(); // oldest first
}

export async function register(s: TestServer, spec: object): Promise<any> {
  const r = await s.api('POST', '/pipelines', spec);
  if (r.status !== 201 && r.status !== 200) throw new Error(`POST /pipelines: ${r.status} ${r.text}`);
  return r.body;
}

/** Runs a schedule made, sorted by fire time. */
export async function scheduled(s: TestServer, pipeline: string): Promise<any[]> {
  return (await runsOf(s, pipeline)).filter((r) => r.trigger?.kind === 'schedule').sort((a, b) => Date.parse(a.trigger.fire_time) - Date.parse(b.trigger.fire_time));
}

export const fireMs = (r: any) => Date.parse(r.trigger.fire_time);

export async function restart(s: TestServer): Promise<TestServer> {
  return new TestServer(s.root, s.dataDir, s.args).start();
}

export const TERMINAL = new Set(['succeeded', 'failed', 'canceled']);

export async function waitRuns(s: TestServer, pipeline: string, pred: (runs: any[]) => boolean, what: string, timeoutMs = 30_000): Promise<any[]> {
  return waitFor(async () => { const runs = await runsOf(s, pipeline); return pred(runs) && runs; }, { what, timeoutMs, intervalMs: 100 });
}
