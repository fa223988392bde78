import type { Config } from '../config.js';
import type { ExecutionStore } from '../ports/execution-store.js';
import type { CliIo, GlobalOptions, StoreAccess } from './io.js';

export type { CliIo, GlobalOptions, StoreAccess } from './io.js';

/**
 * Opens the configured store, brings its schema up to date, runs `fn`, and closes it (see
 * load.ts). The configuration and the store's driver are loaded here, when a command runs: a
 * command that never opens the store, and `--help`, start without them.
 */
export async function withStore<T>(
  io: CliIo,
  options: GlobalOptions,
  fn: (store: ExecutionStore, config: Config) => Promise<T>,
  settings: { migrate?: boolean; access?: StoreAccess } = {},
): Promise<T> {
  const { openConfiguredStore } = await import('./load.js');
  return openConfiguredStore(io, options, fn, settings);
}
