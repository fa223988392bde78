import { VigilApiError, VigilConnectionError } from './errors.js';

export interface TransportOptions {
  /** Base URL of the service, e.g. `http://127.0.0.1:7070` (a path prefix is kept). */
  url: string;
  /** Sent as `Authorization: Bearer <token>` when set. */
  token: string | null;
  fetch: typeof fetch;
  /** Per-request timeout. */
  timeoutMs: number;
  /** How many times a transient failure is retried (so at most `retries + 1` tries). */
  retries: number;
}

export interface RequestOptions {
  /** Retry transient failures. Only for requests that are safe to repeat. */
  retry?: boolean;
  /**
   * With `retry`: keep retrying transient failures for this long rather than `retries` times.
   * For reports that must not be lost (a runner's final complete or fail) while Vigil restarts.
   */
  retryForMs?: number | undefined;
  timeoutMs?: number;
  /** Abandons the request (a worker stopping while its claim waits for work). */
  signal?: AbortSignal | undefined;
}

/**
 * Backoff before retry n (1-based): 100 ms doubling, capped at 2 s, with "equal jitter" (half
 * fixed, half random) so that many runners cut off by the same blip do not come back in step.
 * Short on purpose: a heartbeat is worth retrying only while it can still land well within the
 * heartbeat limit; after `retries` the next scheduled beat tries again anyway.
 */
export function retryDelayMs(n: number): number {
  const base = Math.min(2_000, 100 * 2 ** (n - 1));
  return base / 2 + (Math.random() * base) / 2;
}

/**
 * Connection failures worth another try: the service is restarting, a proxy dropped the
 * connection, a request timed out. A bad host name or a refused TLS handshake is not retried.
 */
const TRANSIENT_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'TimeoutError',
]);

/** Gateway answers that mean "try again": the service (or the proxy's view of it) is down. */
const TRANSIENT_STATUSES = new Set([502, 503, 504]);

export function isTransient(error: unknown): boolean {
  if (error instanceof VigilApiError) return TRANSIENT_STATUSES.has(error.status);
  if (error instanceof VigilConnectionError)
    return TRANSIENT_CODES.has(connectionCode(error.cause));
  return false;
}

/** JSON over HTTP to Vigil, with typed errors and retries of transient failures. */
export class Transport {
  constructor(readonly options: TransportOptions) {}

  async request<T>(
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    body?: unknown,
    options: RequestOptions = {},
  ): Promise<T> {
    const tries = options.retry ? this.options.retries + 1 : 1;
    const until =
      options.retry && options.retryForMs !== undefined ? Date.now() + options.retryForMs : null;
    for (let n = 1; ; n++) {
      try {
        return await this.once<T>(
          method,
          path,
          body,
          options.timeoutMs ?? this.options.timeoutMs,
          options.signal,
        );
      } catch (error) {
        const exhausted = until === null ? n >= tries : Date.now() >= until;
        if (exhausted || !isTransient(error)) throw error;
        await new Promise((resolve) => setTimeout(resolve, retryDelayMs(n)));
      }
    }
  }

  private async once<T>(
    method: string,
    path: string,
    body: unknown,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<T> {
    const base = this.options.url.endsWith('/') ? this.options.url : `${this.options.url}/`;
    const url = new URL(path.replace(/^\//, ''), base);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.options.token) headers.authorization = `Bearer ${this.options.token}`;
    const payload = body === undefined ? undefined : JSON.stringify(body);
    let response: Response;
    let text: string;
    try {
      response = await this.options.fetch(url, {
        method,
        headers,
        body: payload,
        signal: signal
          ? AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)])
          : AbortSignal.timeout(timeoutMs),
      });
      text = await response.text();
    } catch (error) {
      throw new VigilConnectionError(this.options.url, describeConnectionError(error, timeoutMs), {
        cause: error,
      });
    }
    let parsed: unknown = null;
    if (text.length > 0) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = null;
      }
    }
    if (!response.ok) {
      const error = (parsed as { error?: { code?: unknown; message?: unknown } } | null)?.error;
      throw new VigilApiError(
        response.status,
        typeof error?.code === 'string' ? error.code : `http_${response.status}`,
        typeof error?.message === 'string'
          ? error.message
          : `${method} ${url.pathname} answered ${response.status}${text ? `: ${text.slice(0, 200)}` : ''}`,
        parsed,
      );
    }
    return parsed as T;
  }
}

/** The errno-like code of a fetch failure: undici wraps it in `cause`, sometimes in an AggregateError. */
function connectionCode(error: unknown): string {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current && typeof current === 'object'; depth++) {
    const { code, name, errors, cause } = current as {
      code?: unknown;
      name?: unknown;
      errors?: unknown;
      cause?: unknown;
    };
    if (typeof code === 'string') return code;
    if (name === 'TimeoutError') return 'TimeoutError';
    current = Array.isArray(errors) && errors.length > 0 ? errors[0] : cause;
  }
  return 'unknown';
}

function describeConnectionError(error: unknown, timeoutMs: number): string {
  if (connectionCode(error) === 'TimeoutError') return `no answer within ${timeoutMs} ms`;
  const cause = (error as { cause?: unknown } | null)?.cause;
  const inner = cause instanceof Error ? cause : error instanceof Error ? error : null;
  if (inner instanceof AggregateError && inner.errors[0] instanceof Error) {
    return inner.errors[0].message;
  }
  return inner?.message || connectionCode(error);
}
