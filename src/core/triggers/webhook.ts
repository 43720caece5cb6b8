// Webhooks: verify `X-Drover-Signature: sha256=<hex>` — the HMAC-SHA256 of the raw request body
// keyed by the secret the pipeline names in `webhook: {secret: NAME}` — and map the JSON body to
// params. The route lives in server/routes/hooks.ts.
//
// Secrets come through SecretSource: the secret store (core/secrets/store.ts; `drover secret set NAME`).
import { createHmac, timingSafeEqual } from 'node:crypto';
import { DroverError } from '../errors.ts';

export interface SecretSource { get(name: string): string | null }

/** No secrets at all (a TriggerService built without a store refuses every webhook). */
export const noSecrets: SecretSource = { get: () => null };

export const SIGNATURE_HEADER = 'x-drover-signature';

export function sign(secret: string, body: Uint8Array | string): string {
  return 'sha256=' + createHmac('sha256', secret).update(body).digest('hex');
}

/** Refuses (401) a missing or wrong signature; compares in constant time. */
export function verifySignature(secret: string | null, body: Uint8Array, header: string | null | undefined, secretName: string): void {
  if (secret === null || secret === '') {
    throw new DroverError('unauthorized', `webhook secret '${secretName}' is not set on the server (set it with: drover secret set ${secretName})`, { secret: secretName });
  }
  if (!header) throw new DroverError('unauthorized', 'missing X-Drover-Signature header (sha256=<hex HMAC-SHA256 of the raw body>)');
  const m = /^sha256=([0-9a-fA-F]{64})$/.exec(header.trim());
  const want = Buffer.from(createHmac('sha256', secret).update(body).digest());
  if (!m || !timingSafeEqual(Buffer.from(m[1]!, 'hex'), want)) {
    throw new DroverError('unauthorized', 'bad X-Drover-Signature: it must be sha256=<hex HMAC-SHA256 of the raw body> keyed by the pipeline\'s webhook secret');
  }
}

/** The JSON body's fields become params; an empty body means none. */
export function hookParams(body: Uint8Array): Record<string, unknown> {
  const text = new TextDecoder().decode(body);
  if (!text.trim()) return {};
  let v: unknown;
  try { v = JSON.parse(text); } catch (err) { throw new DroverError('invalid_json', `webhook body is not valid JSON: ${(err as Error).message}`); }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new DroverError('invalid_request', 'webhook body must be a JSON object (its fields become params)');
  return v as Record<string, unknown>;
}
