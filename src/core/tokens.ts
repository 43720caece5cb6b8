// Bearer tokens: random, shown once, stored only as a SHA-256 hash. Roles decide what a token may do.
import { createHash, randomBytes } from 'node:crypto';
import type { Role } from './types.ts';

export const ROLES: readonly Role[] = ['admin', 'user', 'reader', 'agent'];
export const hashToken = (token: string): string => createHash('sha256').update(token).digest('hex');
export const newToken = (): string => `drv_${randomBytes(24).toString('base64url')}`;

/** What a role may do: read (GET), write (submit/cancel/pause…), admin (tokens, gc), agent (agent endpoints). */
export type Permission = 'read' | 'write' | 'admin' | 'agent';
const GRANTS: Record<Role, readonly Permission[]> = {
  admin: ['read', 'write', 'admin', 'agent'],
  user: ['read', 'write'],
  reader: ['read'],
  agent: ['agent'],
};
export const allowed = (role: Role, p: Permission): boolean => GRANTS[role].includes(p);
