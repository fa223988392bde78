/** Stable error codes. HTTP maps them to statuses and the CLI to exit codes, each in one place. */
export type ErrorCode =
  | 'bad_input'
  | 'bad_config'
  | 'not_found'
  | 'already_exists'
  | 'already_ended'
  | 'lost_ownership'
  | 'invalid_transition'
  | 'sweep_in_progress'
  | 'slot_taken'
  | 'store_unavailable'
  | 'unauthorized'
  | 'forbidden';

export class VigilError extends Error {
  override readonly name = 'VigilError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    /**
     * Facts a caller may act on, sent beside the error. By convention `execution` is the domain
     * Execution concerned (rendered as JSON by the HTTP layer), e.g. for `already_ended`.
     */
    readonly details?: unknown,
  ) {
    super(message);
  }
}

/** Bad input from a caller: names every field that is wrong. */
export class BadInputError extends VigilError {
  constructor(readonly problems: string[]) {
    super('bad_input', problems.join('; '));
  }
}

/** A configuration that cannot be used: lists every problem, each naming its key. */
export class ConfigError extends VigilError {
  constructor(
    readonly problems: string[],
    source?: string,
  ) {
    super(
      'bad_config',
      `invalid configuration${source && source !== 'defaults' ? ` in ${source}` : ''}:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    );
  }
}

export const isVigilError = (error: unknown): error is VigilError => error instanceof VigilError;
