// GET /api/v1/runs/:id/attestation: a finished run's result.json (the exact text), its attestation.json
// and the server's public key, for `drover verify` to check (the checking happens in the client).
import { Hono } from 'hono';
import { readInJob } from '../../runner/safe-open.ts';
import { DroverError } from '../../core/errors.ts';
import { ATTESTATION_FILE, type Attestor } from '../../core/provenance/attest.ts';
import type { ServerDeps } from '../deps.ts';

export function attestationRoutes(d: ServerDeps, attestor: Attestor) {
  return new Hono().get('/:id/attestation', (c) => {
    const run = d.core.reads.getRun(c.req.param('id'));
    if (!run) throw new DroverError('not_found', `no run ${c.req.param('id')}`);
    let result: string, attestation: unknown;
    try {
      // the run folder is writable by its jobs: never read through a link one left there
      const text = readInJob(run.dir, 'result.json');
      const att = readInJob(run.dir, ATTESTATION_FILE);
      if (text === null || att === null) throw new Error('absent');
      result = text;
      attestation = JSON.parse(att);
    } catch {
      throw new DroverError('not_found', `run ${run.id} has no signed result yet (status ${run.status}; result.json is written when the run ends)`, { status: run.status });
    }
    return c.json({ run: run.id, result, attestation, public_key: attestor.publicKey, key_id: attestor.keyId });
  });
}
