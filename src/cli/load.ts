/**
 * What a command loads when it runs: its configuration (with every section's schema) and its store
 * (with that store's driver). Imported only by context.ts's withStore and by actions, so that
 * `vigil` starts without any of it.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Config } from '../config.js';
import { DEFAULTS, loadConfig } from '../config.js';
import { VigilError } from '../errors.js';
import type { ExecutionStore } from '../ports/execution-store.js';
import type { CliIo, GlobalOptions, StoreAccess } from './io.js';
import { migrationNames } from '../stores/migrations.js';
import { loadStore } from '../stores/load-store.js';
import { storeError } from '../stores/store-error.js';

export function configFrom(io: CliIo, options: GlobalOptions): Config {
  return loadConfig({ path: options.config, cwd: io.cwd, env: io.env, databaseUrl: options.db });
}

/**
 * Opens the configured store, brings its schema up to date, runs `fn`, and closes it. Driver
 * errors that mean "cannot use the store" become `store_unavailable` (exit code 3).
 *
 * With `access: 'read'` an existing database is opened without writing anything (a SQLite file
 * read-only), and one at an older schema is reported rather than migrated; a database that does
 * not exist yet is created as for any command, so `vigil ls` in a new directory answers.
 */
export async function openConfiguredStore<T>(
  io: CliIo,
  options: GlobalOptions,
  fn: (store: ExecutionStore, config: Config) => Promise<T>,
  { migrate = true, access = 'write' }: { migrate?: boolean; access?: StoreAccess } = {},
): Promise<T> {
  const config = configFrom(io, options);
  const url = resolveUrl(io.cwd, config.databaseUrl);
  const sqlitePath = url.startsWith('sqlite:') ? url.slice('sqlite:'.length) : undefined;
  if (sqlitePath !== undefined) ensureDirectory(url, sqlitePath, config.databaseUrl);
  const readonly = access === 'read' && sqlitePath !== undefined && existsSync(sqlitePath);
  const store = await loadStore(url, { busyTimeoutMs: config.sqliteBusyTimeoutMs, readonly });
  try {
    if (access === 'read') {
      const fresh = await checkSchema(store);
      if (fresh && readonly) {
        // An existing file Vigil has never used: a new database, created as any command would.
        await store.close();
        return await openConfiguredStore(io, options, fn, { migrate });
      }
      if (fresh) await store.migrate();
    } else if (migrate) {
      await store.migrate();
    }
    return await fn(store, config);
  } catch (error) {
    throw storeError(error, store.description) ?? error;
  } finally {
    await store.close().catch(() => undefined);
  }
}

/**
 * Whether the database is new to Vigil (no migration applied). One at an older schema is refused:
 * a read-only command must not change it, and reading it as if current could misread its rows.
 */
async function checkSchema(store: ExecutionStore): Promise<boolean> {
  const pending = await store.pendingMigrations();
  const all = await migrationNames();
  if (pending.length === 0) return false;
  if (pending.length === all.length) return true;
  throw new VigilError(
    'store_unavailable',
    `store unavailable: ${store.description}: the database schema is older than this version of Vigil (missing ${pending.join(', ')}); run "vigil migrate" to bring it up to date (ls, show, history and stats never change the database)`,
  );
}

/**
 * Only the default database's directory is created: a `--db` or VIGIL_DATABASE_URL naming a
 * directory that does not exist is far more often a typo than a wish, and creating it would
 * leave an empty database where nobody looks while the real one goes unwatched.
 */
function ensureDirectory(url: string, path: string, configured: string): void {
  if (path === ':memory:') return;
  const directory = dirname(path);
  if (existsSync(directory)) return;
  if (configured === DEFAULTS.databaseUrl) {
    mkdirSync(directory, { recursive: true });
    return;
  }
  throw new VigilError(
    'store_unavailable',
    `store unavailable: ${url}: the directory ${directory} does not exist (create it first)`,
  );
}

function resolveUrl(cwd: string, databaseUrl: string): string {
  return databaseUrl.startsWith('sqlite:')
    ? `sqlite:${resolveFrom(cwd, databaseUrl.slice('sqlite:'.length))}`
    : databaseUrl;
}

function resolveFrom(cwd: string, path: string): string {
  return path === ':memory:' || path.startsWith('/') ? path : `${cwd}/${path}`;
}
