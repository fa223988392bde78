import { inspect } from 'node:util';

/**
 * A value that must never be printed: a webhook secret, a Slack or Discord webhook URL (its path
 * is the credential), an SMTP password. Logging, JSON and string conversion all show `***`; only
 * the adapter that sends calls `reveal()`.
 */
export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  reveal(): string {
    return this.#value;
  }

  toJSON(): string {
    return '***';
  }

  toString(): string {
    return '***';
  }

  [inspect.custom](): string {
    return 'Secret(***)';
  }
}

/** Replaces every occurrence of these secrets in a text (an error message) with `***`. */
export function redactSecrets(
  text: string,
  secrets: readonly (Secret | null | undefined)[],
): string {
  let result = text;
  for (const secret of secrets) {
    const value = secret?.reveal();
    if (!value) continue;
    result = result.split(value).join('***');
    // A URL's path and query often carry the credential on their own (Slack, Discord).
    try {
      const url = new URL(value);
      const tail = `${url.pathname}${url.search}`;
      if (tail.length > 1) result = result.split(tail).join('/***');
    } catch {
      // not a URL
    }
  }
  return result;
}
