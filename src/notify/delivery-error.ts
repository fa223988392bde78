/**
 * A delivery that did not land. `transient` says whether trying again can help: an outage
 * (connection refused, a timeout, 5xx, 429) is retried with backoff; a refusal (another 4xx, an
 * SMTP 5xx) would fail the same way every time, so the message is marked failed at once.
 */
export class DeliveryError extends Error {
  override readonly name = 'DeliveryError';
  constructor(
    message: string,
    readonly transient: boolean,
  ) {
    super(message);
  }
}

/**
 * Turns whatever a send threw into a DeliveryError with a short message that names no URL (a
 * Slack or Discord URL is itself the credential). Network errors and unknown errors count as
 * transient: retrying a message costs little (backoff caps it at one try per few minutes);
 * giving up on an alert during a network blip costs more.
 */
export function toDeliveryError(error: unknown): DeliveryError {
  if (error instanceof DeliveryError) return error;
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
    return new DeliveryError('timed out waiting for the receiver', true);
  }
  const code = errorCode(error);
  if (code !== undefined) {
    const what = NETWORK_ERRORS[code] ?? 'cannot reach the receiver';
    return new DeliveryError(`${what} (${code})`, true);
  }
  return new DeliveryError(
    `delivery failed: ${error instanceof Error ? error.message : String(error)}`,
    true,
  );
}

const NETWORK_ERRORS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset by the receiver',
  UND_ERR_SOCKET: 'connection closed by the receiver',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  ETIMEDOUT: 'timed out connecting',
  UND_ERR_CONNECT_TIMEOUT: 'timed out connecting',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
};

/** The system error code of an error or of its cause (fetch wraps them: "fetch failed"). */
function errorCode(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e && depth < 4; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}
