// Redacts every secret from the API's answers (JSON and plain text): whatever a row or a message
// might quote, no value leaves the server. Skipped when no secret is set, for the stored logs (already
// redacted by the copier, and served byte-exact by offset) and for an agent's claim (which carries
// its job's secrets on purpose).
import type { MiddlewareHandler } from 'hono';
import type { SecretsView } from '../../core/secrets/types.ts';

const EXEMPT = [/\/agents\/claim$/, /\/jobs\/[^/]+\/logs$/];

export function redactAnswers({ secrets }: { secrets: SecretsView }): MiddlewareHandler {
  return async (c, next) => {
    await next();
    const r = secrets.redactor();
    if (r.empty || !c.res.body) return;
    const type = c.res.headers.get('content-type') ?? '';
    if (!/json|text\//.test(type) || EXEMPT.some((re) => re.test(c.req.path))) return;
    const text = await c.res.text();
    const red = r.redactString(text);
    const headers = new Headers(c.res.headers);
    headers.delete('content-length');
    c.res = new Response(red, { status: c.res.status, headers });
  };
}
