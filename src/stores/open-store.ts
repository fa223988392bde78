import type { ExecutionStore } from '../ports/execution-store.js';
import type { OpenStoreOptions } from './load-store.js';
import { storeDriver } from './load-store.js';
import { openPostgresStore } from './postgres.js';
import { openSqliteStore } from './sqlite.js';
import { storeError } from './store-error.js';

export type { OpenStoreOptions } from './load-store.js';
export { storeError } from './store-error.js';

/**
 * Opens the store a database URL names: `sqlite:PATH` (the default) or `postgres://…`. Loads both
 * drivers; the command line uses loadStore, which loads only the one it needs.
 */
export function openStore(url: string, options: OpenStoreOptions = {}): ExecutionStore {
  if (storeDriver(url) === 'postgres') return openPostgresStore(url, { schema: options.schema });
  try {
    return openSqliteStore(url.slice('sqlite:'.length), options);
  } catch (error) {
    throw storeError(error, url) ?? error;
  }
}
