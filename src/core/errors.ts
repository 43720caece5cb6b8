// DroverError: the one error type with a stable code; server/errors.ts renders it as
// {error:{code,message,details}}. FailureReason is the closed set of job failure reasons.

export type ErrorCode =
  | 'invalid_spec' | 'invalid_request' | 'invalid_json' | 'workspace_escape' | 'rejected_by_validator'
  | 'unauthorized' | 'forbidden' | 'not_found' | 'conflict' | 'illegal_transition' | 'idempotency_conflict'
  | 'payload_too_large' | 'too_many_runs' | 'storage_unavailable' | 'shutting_down' | 'unknown_executor' | 'rate_limited'
  | 'log_incomplete' | 'batch_system_unavailable'
  | 'internal';

const STATUS: Record<ErrorCode, number> = {
  invalid_spec: 400, invalid_request: 400, invalid_json: 400, workspace_escape: 400, rejected_by_validator: 400,
  unknown_executor: 400, too_many_runs: 400,
  unauthorized: 401, forbidden: 403, not_found: 404,
  conflict: 409, illegal_transition: 409, idempotency_conflict: 409, log_incomplete: 409,
  payload_too_large: 413, rate_limited: 429, storage_unavailable: 503, shutting_down: 503, batch_system_unavailable: 503, internal: 500,
};

export class DroverError extends Error {
  readonly status: number;
  constructor(readonly code: ErrorCode, message: string, readonly details: Record<string, unknown> = {}) {
    super(message);
    this.name = 'DroverError';
    this.status = STATUS[code];
  }
}

export type FailureReason =
  | 'exit_code' | 'timeout' | 'lost' | 'canceled' | 'missing_workspace' | 'missing_run_folder'
  | 'workspace_escape' | 'rejected_by_validator' | 'upstream_failed' | 'spawn_failed' | 'executor_unavailable' | 'executor_error'
  | 'output_conflict' | 'interpolation_failed' | 'unsafe_file' | `slurm:${string}` | 'no_gpu_detected' | 'missing_secret';

/** An executor's own code threw, hung past its time limit or answered nonsense: the job it concerned
 *  fails `executor_error` with this message, and the server goes on (plugins/guard.ts raises it). */
export class ExecutorError extends Error {
  constructor(readonly executor: string, readonly call: string, message: string) {
    super(`executor '${executor}' ${call}: ${message}`);
    this.name = 'ExecutorError';
  }
}

const STORAGE_CODES = /SQLITE_(FULL|READONLY|IOERR|CANTOPEN)|ENOSPC|EROFS|EDQUOT|disk I\/O error|database or disk is full|readonly database|read-only file system|no space left/i;

/** True when an error means the disk is full or read-only, not that the input was bad. */
export function isStorageError(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  const e = err as { code?: string; message?: string };
  return STORAGE_CODES.test(`${e.code ?? ''} ${e.message ?? ''}`);
}
