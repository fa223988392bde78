/** Small checks and helpers of the configuration's values. */
import { redact } from './redact.js';

/** What is wrong with a database URL, or undefined when it can be used. */
export function checkDatabaseUrl(url: string): string | undefined {
  const got = JSON.stringify(redact(url));
  if (!/^(sqlite:.+|postgres(ql)?:\/\/.+)$/.test(url)) {
    return `expected "sqlite:PATH" or "postgres://…", got ${got}`;
  }
  if (url.startsWith('sqlite:')) return undefined;
  try {
    new URL(url);
  } catch {
    return `expected a URL like "postgres://user@host:5432/database", got ${got}`;
  }
  return undefined;
}

export function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
