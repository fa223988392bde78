import type { StoreStatus } from '../ports/records.js';

/**
 * Whether Vigil's database answers, from the outcome of the last real command: a write that
 * landed says up, a command that met an unavailable database says down. The ledger reports its
 * heartbeat writes here, the sweeps their outcome, and the HTTP edge any request that met an
 * unavailable database; `/healthz` and the metrics read it.
 */
export class StoreHealth {
  private error: string | null = null;

  /** `onRecovered`: called when the database answers again after it was down. */
  constructor(private readonly onRecovered: () => void = () => undefined) {}

  /** A command failed because the database is unavailable. */
  down(error?: unknown): void {
    this.error = error instanceof Error ? error.message : 'the database did not answer';
  }

  /** A command worked: the database answers. */
  up(): void {
    if (this.error !== null) this.onRecovered();
    this.error = null;
  }

  /** Up, or down with why (from the last command's outcome). */
  status(): StoreStatus {
    return { up: this.error === null, error: this.error };
  }
}
