import { DeliveryError, toDeliveryError } from './delivery-error.js';
import type { Secret } from './secret.js';
import { redactSecrets } from './secret.js';

export interface PostOptions {
  /** The receiver's URL: kept secret (a chat webhook's URL is its credential). */
  url: Secret;
  body: string;
  headers?: Record<string, string>;
  timeoutMs: number;
  /** Secrets to scrub from anything the receiver answers before it is stored as an error. */
  secrets: readonly Secret[];
}

/**
 * POSTs a JSON body and resolves when the receiver answers 2xx. A redirect is a refusal: a signed
 * delivery is never re-sent somewhere the configuration did not name.
 */
export async function postJson(options: PostOptions): Promise<void> {
  let response: Response;
  try {
    response = await fetch(options.url.reveal(), {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...options.headers },
      body: options.body,
      redirect: 'manual',
      signal: AbortSignal.timeout(options.timeoutMs),
    });
  } catch (error) {
    throw toDeliveryError(error);
  }
  if (response.status >= 200 && response.status < 300) {
    await response.body?.cancel();
    return;
  }
  const text = await response.text().catch(() => '');
  const snippet = redactSecrets(text.replace(/\s+/g, ' ').trim().slice(0, 200), options.secrets);
  // Busy (429), timed out (408) or broken (5xx) can get better; any other answer is a refusal.
  const transient = response.status === 408 || response.status === 429 || response.status >= 500;
  throw new DeliveryError(
    `receiver answered HTTP ${response.status}${snippet ? `: ${snippet}` : ''}`,
    transient,
  );
}
