// Serves the web page at `/` and its assets at /assets/*. The files are imported as text, so
// `bun build --compile` embeds them in the binary: no CDN, works offline. The page holds no data
// (everything comes from /api/v1 with the user's token), so these routes need none.
import { Hono } from 'hono';
import indexHtml from './index.html' with { type: 'text' };
// @ts-ignore: imported as text (embedded), not as a module
import appJs from './app.js' with { type: 'text' };
// @ts-ignore: imported as text (embedded), not as a module
import libJs from './lib.js' with { type: 'text' };
// @ts-ignore: imported as text (embedded), not as a module
import runsJs from './runs.js' with { type: 'text' };
// @ts-ignore: imported as text (embedded), not as a module
import groupJs from './group.js' with { type: 'text' };
// @ts-ignore: imported as text (embedded), not as a module
import chartJs from './chart.js' with { type: 'text' };
// @ts-ignore: imported as text (embedded), not as a module
import runJs from './run.js' with { type: 'text' };
// @ts-ignore: imported as text (embedded), not as a module
import dagJs from './dag.js' with { type: 'text' };
// @ts-ignore: imported as text (embedded), not as a module
import jobJs from './job.js' with { type: 'text' };
// @ts-ignore: imported as text (embedded), not as a module
import queueJs from './queue.js' with { type: 'text' };
// @ts-ignore: imported as text (embedded), not as a module
import appCss from './app.css' with { type: 'text' };

const CSP = "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const ASSETS: Record<string, [body: string, type: string]> = {
  '/': [indexHtml as unknown as string, 'text/html; charset=utf-8'],
  '/assets/app.js': [appJs as string, 'text/javascript; charset=utf-8'],
  '/assets/lib.js': [libJs as string, 'text/javascript; charset=utf-8'],
  '/assets/runs.js': [runsJs as string, 'text/javascript; charset=utf-8'],
  '/assets/group.js': [groupJs as string, 'text/javascript; charset=utf-8'],
  '/assets/chart.js': [chartJs as string, 'text/javascript; charset=utf-8'],
  '/assets/run.js': [runJs as string, 'text/javascript; charset=utf-8'],
  '/assets/dag.js': [dagJs as string, 'text/javascript; charset=utf-8'],
  '/assets/job.js': [jobJs as string, 'text/javascript; charset=utf-8'],
  '/assets/queue.js': [queueJs as string, 'text/javascript; charset=utf-8'],
  '/assets/app.css': [appCss as string, 'text/css; charset=utf-8'],
};

export function webRoutes() {
  const app = new Hono();
  for (const [path, [body, type]] of Object.entries(ASSETS)) {
    app.get(path, (c) => c.body(body, 200, {
      'content-type': type, 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff',
      'content-security-policy': CSP, 'referrer-policy': 'no-referrer',
    }));
  }
  return app;
}
