import { VigilError } from '../errors.js';
import type { ExecutionStore } from '../ports/execution-store.js';
import { redact } from '../shared/redact.js';
import { storeError } from './store-error.js';

export interface OpenStoreOptions {
  busyTimeoutMs?: number | undefined;
  /** PostgreSQL: the schema for Vigil's tables. */
  schema?: string | undefined;
  /** SQLite: open an existing file for reading only (PostgreSQL is opened as usual). */
  readonly?: boolean | undefined;
}

/** Which driver a database URL names: `sqlite:PATH` (the default) or `postgres://…`. */
export function storeDriver(url: string): 'sqlite' | 'postgres' {
  if (url.startsWith('sqlite:')) return 'sqlite';
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) return 'postgres';
  throw new VigilError(
    'bad_config',
    `database: expected "sqlite:PATH" or "postgres://…", got ${JSON.stringify(redact(url))}`,
  );
}

/**
 * Opens the store a database URL names, loading only that store's driver: a command run from
 * cron on SQLite never loads the PostgreSQL client, nor the other way round.
 */
export async function loadStore(
  url: string,
  options: OpenStoreOptions = {},
): Promise<ExecutionStore> {
  if (storeDriver(url) === 'postgres') {
    const { openPostgresStore } = await import('./postgres.js');
    return openPostgresStore(url, { schema: options.schema });
  }
  const { openSqliteStore } = await import('./sqlite.js');
  try {
    return openSqliteStore(url.slice('sqlite:'.length), options);
  } catch (error) {
    throw storeError(error, url) ?? error;
  }
}
