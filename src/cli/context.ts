import type { Config } from '../config.js';
import { loadConfig } from '../config.js';
import type { Clock } from '../ports.js';
import type { ExecutionStore } from '../ports/execution-store.js';
import { openStore, storeError } from '../stores/open-store.js';

/** Everything a command touches from the outside world, so tests can run commands in-process. */
export interface CliIo {
  out: (text: string) => void;
  err: (text: string) => void;
  env: Record<string, string | undefined>;
  cwd: string;
  clock: Clock;
}

/** Options every command accepts. */
export interface GlobalOptions {
  config?: string | undefined;
  db?: string | undefined;
}

export function configFrom(io: CliIo, options: GlobalOptions): Config {
  const env = options.db ? { ...io.env, VIGIL_DATABASE_URL: options.db } : io.env;
  return loadConfig({ path: options.config, cwd: io.cwd, env });
}

/**
 * Opens the configured store, brings its schema up to date, runs `fn`, and closes it. Driver
 * errors that mean "cannot use the store" become `store_unavailable` (exit code 3).
 */
export async function withStore<T>(
  io: CliIo,
  options: GlobalOptions,
  fn: (store: ExecutionStore, config: Config) => Promise<T>,
  { migrate = true }: { migrate?: boolean } = {},
): Promise<T> {
  const config = configFrom(io, options);
  const url = config.databaseUrl.startsWith('sqlite:')
    ? `sqlite:${resolveFrom(io.cwd, config.databaseUrl.slice('sqlite:'.length))}`
    : config.databaseUrl;
  const store = openStore(url, { busyTimeoutMs: config.sqliteBusyTimeoutMs });
  try {
    if (migrate) await store.migrate();
    return await fn(store, config);
  } catch (error) {
    throw storeError(error, store.description) ?? error;
  } finally {
    await store.close().catch(() => undefined);
  }
}

function resolveFrom(cwd: string, path: string): string {
  return path === ':memory:' || path.startsWith('/') ? path : `${cwd}/${path}`;
}
