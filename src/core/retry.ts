// Retry delays: exponential backoff with full jitter, capped by max_backoff.
import type { RetryPolicy } from './spec/types.ts';

export function backoffDelay(policy: RetryPolicy, failuresSoFar: number, random = Math.random): number {
  const exp = policy.backoff_ms * 2 ** Math.max(0, failuresSoFar - 1);
  return Math.floor(random() * Math.min(policy.max_backoff_ms, exp));
}

/** Reasons that a new attempt cannot fix fail at once. */
export const RETRYABLE = new Set(['exit_code', 'timeout', 'lost']);
