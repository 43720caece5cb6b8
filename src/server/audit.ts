// The routes' one call into the audit log: who (token id, name, role) did what to what, and when.
import type { Context } from 'hono';
import { isoNow } from '../core/ids.ts';
import type { AuditRepo } from '../core/secrets/types.ts';
import type { TokenRow } from '../core/types.ts';

export type AuditAction = 'submit' | 'cancel' | 'pause' | 'resume' | 'retry' | 'secret_set' | 'secret_delete' | 'token_create' | 'token_delete' | 'gc' | 'alloc_add' | 'alloc_pause' | 'alloc_resume' | 'alloc_rm';

export function audit(repo: AuditRepo | undefined, c: Context, action: AuditAction, target: string | null, details?: Record<string, unknown>): void {
  if (!repo) return;
  const t = c.get('token' as never) as TokenRow | undefined;
  repo.insert({
    at: isoNow(), token_id: t?.id ?? null, token_name: t?.name ?? null, role: t?.role ?? null,
    action, target, details: details ? JSON.stringify(details) : null,
  });
}
