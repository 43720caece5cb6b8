// `drover verify RUN [--data-dir DIR]`: checks a finished run's attestation.json against its
// result.json, byte for byte, with the server's Ed25519 public key. Through the API by default
// (GET /runs/:id/attestation, checked here in the client); with --data-dir it reads the run folder and
// the key files there (the private key file, when readable, is the trusted source of the public key).
// Exit 0 when it verifies, 1 (loudly) on any edited byte, a foreign key or a missing attestation.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CliError } from './args.ts';
import { HttpError } from './client.ts';
import { defineCommand, requireKind } from './command.ts';
import { verifyAttestation, publicKeyOf, KEY_FILE, PUB_FILE, ATTESTATION_FILE, type Attestation, type Verdict } from '../core/provenance/attest.ts';

async function offline(dataDir: string, runId: string): Promise<Verdict> {
  const dir = join(dataDir, 'runs', runId);
  let result: Uint8Array, att: Attestation;
  try { result = readFileSync(join(dir, 'result.json')); } catch { return { ok: false, reason: `no result.json in ${dir}` }; }
  try { att = JSON.parse(readFileSync(join(dir, ATTESTATION_FILE), 'utf8')); } catch { return { ok: false, reason: `no readable ${ATTESTATION_FILE} in ${dir}` }; }
  let key: string;
  try { key = await publicKeyOf(readFileSync(join(dataDir, KEY_FILE), 'utf8').trim()); } catch {
    try { key = readFileSync(join(dataDir, PUB_FILE), 'utf8').trim(); } catch { return { ok: false, reason: `no ${KEY_FILE} or ${PUB_FILE} in ${dataDir}` }; }
  }
  return verifyAttestation(result, att, key, runId);
}

export const verifyCommand = defineCommand({
  name: 'verify',
  usage: 'verify RUN [--data-dir DIR]',
  summary: 'Check that a run\'s result.json is exactly what the server signed (attestation.json); exit 1 if not.',
  args: [1, 1],
  flags: {},
  async run({ positionals: [id], flags }, ctx) {
    requireKind(id!, ['run'] as const);
    let verdict: Verdict;
    if (flags['data-dir']) verdict = await offline(resolve(flags['data-dir']), id!);
    else {
      let res: { result: string; attestation: Attestation; public_key: string };
      try { res = await ctx.client().get(`/runs/${id}/attestation`); } catch (e) {
        if (e instanceof HttpError && e.status === 404) throw new CliError(`drover: verify FAILED for ${id}: ${e.message.replace(/^drover: /, '')}`, 1);
        throw e;
      }
      verdict = await verifyAttestation(new TextEncoder().encode(res.result), res.attestation, res.public_key, id);
    }
    if (!verdict.ok) throw new CliError(`drover: verify FAILED for ${id}: ${verdict.reason}`, 1);
    if (flags.json) ctx.out.text(JSON.stringify({ run: id, ok: true, key_id: verdict.key_id, signed_at: verdict.signed_at }));
    else process.stdout.write(`ok: result.json of ${id} is as signed by key ${verdict.key_id} at ${verdict.signed_at}\n`);
    return 0;
  },
});
