import type { Clock } from '../ports.js';

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

/** How a command uses the store: `read` never changes an existing database (ls, show, history). */
export type StoreAccess = 'write' | 'read';
