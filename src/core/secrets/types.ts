// Ports of the secret store and the audit log: rows as the db keeps them (db/repos/secrets.ts,
// db/repos/audit.ts implement these), and the narrow view of secrets the scheduler gets.
import type { Redactor } from '../redact/redactor.ts';

/** One stored secret: the value only as AES-GCM ciphertext (base64), never in clear. */
export interface SecretRow { name: string; iv: string; ciphertext: string; created_at: string; updated_at: string }

export interface SecretRepo {
  list(): SecretRow[];
  get(name: string): SecretRow | null;
  put(row: SecretRow): void;
  delete(name: string): boolean;
}

/** What the scheduler, the agent broker and result.json need of the secrets: values by name, and redaction. */
export interface SecretsView {
  /** the names in `names` that are not set */
  missing(names: readonly string[]): string[];
  /** name → value for the names that are set */
  values(names: readonly string[]): Record<string, string>;
  /** a redactor for every secret now set, plus `extra` (values a job got that may since have changed) */
  redactor(extra?: Record<string, string>): Redactor;
  redactText(s: string): string;
  /** values sealed (AES-256-GCM under the store's key) for keeping beside a job; unseal: null if it does not open */
  seal?(values: Record<string, string>): string;
  unseal?(sealed: string): Record<string, string> | null;
}

export interface AuditEntry {
  seq: number; at: string; token_id: string | null; token_name: string | null; role: string | null;
  action: string; target: string | null; details: string | null;
}

export interface AuditRepo {
  insert(e: Omit<AuditEntry, 'seq'>): void;
  list(f: { limit: number; cursor: number | null; action?: string }): AuditEntry[];
}
