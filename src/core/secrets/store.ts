// The secret store: write-only values, encrypted at rest with AES-GCM (WebCrypto) under a 256-bit key
// in <data-dir>/secrets.key (0600). Each value is sealed with a fresh 96-bit IV and the secret's name
// as additional data. Values are decrypted once at start and kept in this process only, so a job
// start (synchronous, inside the scheduler's transaction) can read them; nothing here ever hands a
// value to the API. Also the SecretSource of webhooks and the SecretsView of the scheduler.
// Not here: SQL (db/repos/secrets.ts), HTTP (server/routes/secrets.ts), masking (redact/).
import { randomBytes, createCipheriv, createDecipheriv } from 'node:crypto';
import { DroverError } from '../errors.ts';
import { isoNow } from '../ids.ts';
import { VAR_NAME } from '../spec/schema.ts';
import { Redactor } from '../redact/redactor.ts';
import { MIN_SECRET_LENGTH, MAX_SECRET_BYTES } from '../redact/patterns.ts';
import { readOrCreateKey } from './keyfile.ts';
import type { SecretRepo, SecretsView } from './types.ts';
import type { Logger } from '../ports.ts';

const enc = new TextEncoder();
/** additional data of a job's sealed secret values (secrets.sealed in its folder) */
const SEALED_AAD = 'drover job secrets v1';
const dec = new TextDecoder();
const b64 = (b: ArrayBuffer | Uint8Array) => Buffer.from(b instanceof Uint8Array ? b : new Uint8Array(b)).toString('base64');
const unb64 = (s: string) => new Uint8Array(Buffer.from(s, 'base64'));

export interface SecretInfo { name: string; created_at: string; updated_at: string }

/** Refuses a bad name or value with a 400 that never repeats the value. */
export function checkSecret(name: string, value: unknown): string {
  if (!VAR_NAME.test(name) || name.length > 128) throw new DroverError('invalid_request', `secret name '${name.slice(0, 128)}' is invalid: it must match ${VAR_NAME.source} (it becomes an environment variable)`, { path: 'name' });
  if (name.startsWith('DROVER_')) throw new DroverError('invalid_request', `secret name '${name}' is invalid: DROVER_ variables are set by drover itself`, { path: 'name' });
  if (typeof value !== 'string') throw new DroverError('invalid_request', 'value: must be a string', { path: 'value' });
  if (value.length < MIN_SECRET_LENGTH) {
    throw new DroverError('invalid_request', `value: a secret must be at least ${MIN_SECRET_LENGTH} characters long (shorter values would mask ordinary text all over the logs)`, { path: 'value', min: MIN_SECRET_LENGTH });
  }
  if (enc.encode(value).length > MAX_SECRET_BYTES) throw new DroverError('invalid_request', `value: a secret may be at most ${MAX_SECRET_BYTES} bytes`, { path: 'value', max: MAX_SECRET_BYTES });
  if (value.includes('\0')) throw new DroverError('invalid_request', 'value: must not contain NUL bytes (environment variables cannot hold them)', { path: 'value' });
  return value;
}

export class SecretStore implements SecretsView {
  private values_ = new Map<string, string>();
  private info = new Map<string, SecretInfo>();
  private cached: Redactor | null = null;
  private readonly listeners: (() => void)[] = [];

  private constructor(private readonly key: CryptoKey, private readonly repo: SecretRepo, private readonly log?: Logger, private readonly rawKey?: Uint8Array) {}

  /** Opens (or creates) the key file and decrypts every stored secret. */
  static async open(keyFile: string, repo: SecretRepo, log?: Logger): Promise<SecretStore> {
    const raw = readOrCreateKey(keyFile, () => randomBytes(32).toString('base64') + '\n', (m, d) => log?.warn(m, d));
    const bytes = unb64(raw);
    if (bytes.length !== 32) throw new DroverError('invalid_request', `the secrets key ${keyFile} is not a base64 256-bit key`, { path: keyFile });
    const key = await crypto.subtle.importKey('raw', bytes, 'AES-GCM', false, ['encrypt', 'decrypt']);
    const store = new SecretStore(key, repo, log, bytes);
    for (const row of repo.list()) {
      try {
        const plain = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: unb64(row.iv), additionalData: enc.encode(row.name) }, key, unb64(row.ciphertext));
        store.values_.set(row.name, dec.decode(plain));
        store.info.set(row.name, { name: row.name, created_at: row.created_at, updated_at: row.updated_at });
      } catch {
        log?.error('a stored secret does not decrypt with secrets.key (was the key replaced?); it is treated as unset', { name: row.name });
      }
    }
    return store;
  }

  /** Called after every change (the redactors of the API and new jobs follow). */
  onChange(fn: () => void): void { this.listeners.push(fn); }

  get(name: string): string | null { return this.values_.get(name) ?? null; }
  has(name: string): boolean { return this.values_.has(name); }
  list(): SecretInfo[] { return [...this.info.values()].sort((a, b) => a.name.localeCompare(b.name)); }

  async set(name: string, value: string): Promise<SecretInfo & { created: boolean }> {
    checkSecret(name, value);
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const sealed = await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: enc.encode(name) }, this.key, enc.encode(value));
    const now = isoNow();
    const prev = this.info.get(name);
    const row = { name, iv: b64(iv), ciphertext: b64(sealed), created_at: prev?.created_at ?? now, updated_at: now };
    this.repo.put(row);
    this.values_.set(name, value);
    this.info.set(name, { name, created_at: row.created_at, updated_at: now });
    this.changed();
    return { name, created_at: row.created_at, updated_at: now, created: !prev };
  }

  delete(name: string): boolean {
    const had = this.repo.delete(name) || this.values_.has(name);
    this.values_.delete(name);
    this.info.delete(name);
    if (had) this.changed();
    return had;
  }

  missing(names: readonly string[]): string[] { return names.filter((n) => !this.values_.has(n)); }

  values(names: readonly string[]): Record<string, string> {
    const out: Record<string, string> = {};
    for (const n of names) { const v = this.values_.get(n); if (v !== undefined) out[n] = v; }
    return out;
  }

  redactor(extra?: Record<string, string>): Redactor {
    if (!extra || Object.keys(extra).every((k) => this.values_.get(k) === extra[k])) return (this.cached ??= this.build());
    return new Redactor([...this.entries(), ...Object.entries(extra).map(([name, value]) => ({ name, value }))]);
  }

  redactText(s: string): string { return this.values_.size ? this.redactor().redactString(s) : s; }

  /** The values a job started with, sealed for its folder (synchronous: a job start runs inside a transaction). */
  seal(values: Record<string, string>): string {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.rawKey!, iv);
    c.setAAD(Buffer.from(SEALED_AAD));
    const body = Buffer.concat([c.update(JSON.stringify(values), 'utf8'), c.final()]);
    return JSON.stringify({ v: 1, iv: b64(iv), tag: b64(c.getAuthTag()), data: b64(body) });
  }

  unseal(sealed: string): Record<string, string> | null {
    try {
      const o = JSON.parse(sealed) as { iv: string; tag: string; data: string };
      const d = createDecipheriv('aes-256-gcm', this.rawKey!, unb64(o.iv));
      d.setAAD(Buffer.from(SEALED_AAD));
      d.setAuthTag(unb64(o.tag));
      const plain = Buffer.concat([d.update(unb64(o.data)), d.final()]).toString('utf8');
      const values = JSON.parse(plain) as Record<string, unknown>;
      return Object.fromEntries(Object.entries(values).filter(([, v]) => typeof v === 'string')) as Record<string, string>;
    } catch { return null; }
  }

  private entries() { return [...this.values_].map(([name, value]) => ({ name, value })); }
  private build(): Redactor { return new Redactor(this.entries()); }

  private changed(): void {
    this.cached = null;
    for (const l of this.listeners) {
      try { l(); } catch (err) { this.log?.warn('a secrets listener failed', { err: String(err) }); }
    }
  }
}
