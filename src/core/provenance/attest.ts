// Attestations: attestation.json beside a run's result.json signs that exact file with the server's
// Ed25519 key (WebCrypto). The key lives in <data-dir>/attestation.key (0600, PKCS#8, base64); its
// public half is also written to attestation.pub for others to verify with. The signed payload binds
// the run id, the file's SHA-256, the time and the key id, so editing any byte of result.json — or
// of the attestation — makes verification fail.
// Not here: what result.json holds (scheduler/result.ts), the CLI (cli/verify.ts).
import { createHash } from 'node:crypto';
import { writeFileSync, renameSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { readOrCreateKey } from '../secrets/keyfile.ts';
import type { Logger } from '../ports.ts';

export const ATTESTATION_FILE = 'attestation.json';
export const KEY_FILE = 'attestation.key';
export const PUB_FILE = 'attestation.pub';

export interface Attestation {
  version: 1; algorithm: 'Ed25519'; run: string; file: 'result.json';
  sha256: string; signed_at: string; key_id: string; public_key: string; signature: string;
}

const enc = new TextEncoder();
const b64 = (b: ArrayBuffer | Uint8Array) => Buffer.from(b instanceof Uint8Array ? b : new Uint8Array(b)).toString('base64');
export const sha256Hex = (data: Uint8Array | string) => createHash('sha256').update(data).digest('hex');
export const keyIdOf = (publicKeyB64: string) => sha256Hex(Buffer.from(publicKeyB64, 'base64')).slice(0, 16);

/** The bytes the signature covers. */
export function payloadOf(a: Pick<Attestation, 'run' | 'file' | 'sha256' | 'signed_at' | 'key_id'>): Uint8Array<ArrayBuffer> {
  return enc.encode(`drover-attestation/v1\nrun=${a.run}\nfile=${a.file}\nsha256=${a.sha256}\nsigned_at=${a.signed_at}\nkey_id=${a.key_id}\n`);
}

export type Verdict = { ok: true; key_id: string; signed_at: string } | { ok: false; reason: string };

/** Checks result.json's bytes against an attestation, with a public key the verifier trusts (base64 raw). */
export async function verifyAttestation(result: Uint8Array, att: Attestation, trustedPublicKey: string, runId?: string): Promise<Verdict> {
  if (!att || att.version !== 1 || att.algorithm !== 'Ed25519') return { ok: false, reason: 'not a drover v1 Ed25519 attestation' };
  if (runId && att.run !== runId) return { ok: false, reason: `the attestation is for run ${att.run}, not ${runId}` };
  if (att.public_key !== trustedPublicKey || att.key_id !== keyIdOf(trustedPublicKey)) {
    return { ok: false, reason: `signed with key ${att.key_id}, not this server's key ${keyIdOf(trustedPublicKey)}` };
  }
  const digest = sha256Hex(result);
  if (digest !== att.sha256) return { ok: false, reason: `result.json was changed after it was signed (sha256 ${digest}, signed ${att.sha256})` };
  try {
    const key = await crypto.subtle.importKey('raw', Buffer.from(trustedPublicKey, 'base64'), { name: 'Ed25519' }, false, ['verify']);
    const good = await crypto.subtle.verify('Ed25519', key, Buffer.from(att.signature, 'base64'), payloadOf(att));
    return good ? { ok: true, key_id: att.key_id, signed_at: att.signed_at } : { ok: false, reason: 'the signature does not match (the attestation was edited, or forged)' };
  } catch (err) {
    return { ok: false, reason: `the signature cannot be checked: ${String(err)}` };
  }
}

/** The public key (base64 raw) of a private key file's PKCS#8 text. */
export async function publicKeyOf(pkcs8B64: string): Promise<string> {
  const key = await crypto.subtle.importKey('pkcs8', Buffer.from(pkcs8B64, 'base64'), { name: 'Ed25519' }, true, ['sign']);
  const jwk = await crypto.subtle.exportKey('jwk', key);
  return b64(Buffer.from(jwk.x!, 'base64url'));
}

export class Attestor {
  private chains = new Map<string, Promise<void>>();
  private constructor(private readonly key: CryptoKey, readonly publicKey: string, private readonly log?: Logger) {}

  static async open(dataDir: string, log?: Logger): Promise<Attestor> {
    // a fresh pair, used only when the key file does not exist yet (creation is exclusive)
    const pair = await crypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify']) as CryptoKeyPair;
    const fresh = b64(await crypto.subtle.exportKey('pkcs8', pair.privateKey));
    let made = false;
    const text = readOrCreateKey(join(dataDir, KEY_FILE), () => { made = true; return fresh + '\n'; }, (m, d) => log?.warn(m, d));
    const key = await crypto.subtle.importKey('pkcs8', Buffer.from(text, 'base64'), { name: 'Ed25519' }, false, ['sign']);
    const pub = await publicKeyOf(text);
    const pubFile = join(dataDir, PUB_FILE);
    if (made || !existsSync(pubFile)) writeFileSync(pubFile, pub + '\n', { mode: 0o644 });
    return new Attestor(key, pub, log);
  }

  get keyId(): string { return keyIdOf(this.publicKey); }

  /** Signs result.json (its SHA-256, of the text written) into attestation.json beside it; in order per
   *  run (a rewrite waits for the last). */
  sign(runId: string, dir: string, sha256: string): Promise<void> {
    const prev = this.chains.get(runId) ?? Promise.resolve();
    const next = prev.then(() => this.write(runId, dir, sha256)).catch((err) => this.log?.warn('could not write attestation.json', { runId, err: String(err) }));
    this.chains.set(runId, next);
    next.finally(() => { if (this.chains.get(runId) === next) this.chains.delete(runId); });
    return next;
  }

  private async write(runId: string, dir: string, sha256: string): Promise<void> {
    const body = { version: 1 as const, algorithm: 'Ed25519' as const, run: runId, file: 'result.json' as const, sha256, signed_at: new Date().toISOString(), key_id: this.keyId, public_key: this.publicKey };
    const signature = b64(await crypto.subtle.sign('Ed25519', this.key, payloadOf(body)));
    const tmp = join(dir, `.${ATTESTATION_FILE}.tmp`);
    writeFileSync(tmp, JSON.stringify({ ...body, signature }, null, 2) + '\n', { mode: 0o600 });
    renameSync(tmp, join(dir, ATTESTATION_FILE));
  }
}
