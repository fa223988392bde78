import type { Execution, ExecutionStatus } from './types.js';

/** Vigil answered with an error: `{"error": {"code", "message"}}` and a 4xx/5xx status. */
export class VigilApiError extends Error {
  override readonly name = 'VigilApiError';
  constructor(
    /** The HTTP status. */
    readonly status: number,
    /** The stable error code, e.g. `lost_ownership`, `already_ended`; `http_<status>` without one. */
    readonly code: string,
    message: string,
    /** The whole parsed answer (null when it was not JSON). */
    readonly body: unknown,
  ) {
    super(message);
  }

  /** For `already_ended`: the execution as Vigil has it (with the report kept as `lateResult`). */
  get execution(): Execution | undefined {
    const body = this.body as { execution?: Execution } | null;
    return body?.execution;
  }
}

/** Vigil could not be reached (connection refused or reset, DNS, timeout). */
export class VigilConnectionError extends Error {
  override readonly name = 'VigilConnectionError';
  readonly code = 'unreachable';
  constructor(
    readonly url: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`cannot reach Vigil at ${url}: ${message}`, options);
  }
}

/**
 * The execution is no longer this runner's: the watchdog ended it, an operator cancelled it, or a
 * newer attempt took over. The runner must stop; this is the reason `ctx.signal` is aborted with.
 */
export class LostOwnershipError extends Error {
  override readonly name = 'LostOwnershipError';
  readonly code = 'lost_ownership';
  constructor(
    readonly executionId: string,
    /** Its status now, when Vigil said (e.g. "failed", "cancelled"). */
    readonly status: ExecutionStatus | null,
    /** Vigil's reason, e.g. "no progress for 1s, limit 1s" or "cancelled by an operator". */
    readonly reason: string,
  ) {
    super(`execution ${executionId} is no longer ours (${status ?? 'unknown'}): ${reason}`);
  }
}

export const isLostOwnership = (error: unknown): error is VigilApiError =>
  error instanceof VigilApiError && error.code === 'lost_ownership';

export const isAlreadyEnded = (error: unknown): error is VigilApiError =>
  error instanceof VigilApiError && error.code === 'already_ended';

/** The `{status, reason}` a 409 lost_ownership carries. */
export function lostOwnershipOf(id: string, error: VigilApiError): LostOwnershipError {
  const body = (error.body ?? {}) as { status?: ExecutionStatus | null; reason?: string };
  return new LostOwnershipError(id, body.status ?? null, body.reason ?? error.message);
}
