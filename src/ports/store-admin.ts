import type { OutboxStore } from './outbox-store.js';
import type { ProcessStore } from './process-store.js';
import type { SilenceStore } from './silence-store.js';
import type { ScheduleStore } from './schedule-store.js';

/**
 * The store as a whole: bring its schema up, check it answers, close it, and reach the stores
 * kept in the same database (supervised processes, the notification outbox).
 */
export interface StoreAdmin {
  readonly description: string;
  /** Brings the schema up to date; returns the names of the migrations applied. */
  migrate(): Promise<string[]>;
  /** The migrations not yet applied, found without writing anything. */
  pendingMigrations(): Promise<string[]>;
  close(): Promise<void>;
  /**
   * Throws `store_unavailable` when the store can no longer keep what it acknowledges (an SQLite
   * file deleted or replaced while open). Cheap: called on each health check.
   */
  assertIntact?(): void;
  /** Answers when the database is reachable; throws otherwise. */
  ping(): Promise<void>;
  /**
   * The database server's own clock (ms since the epoch), to measure this process's clock against;
   * null where the database has no clock of its own (SQLite runs in this process, on its clock).
   */
  databaseTime(): Promise<number | null>;
  /** The supervised processes' state and recovery audit, in the same database. */
  processes(): ProcessStore;
  /** The notification outbox, in the same database. */
  outbox(): OutboxStore;
  /** Silences, maintenance windows and the pause, in the same database. */
  silences(): SilenceStore;
  /** The judging of `schedules:` and the schedules' pings, in the same database. */
  schedules(): ScheduleStore;
}
