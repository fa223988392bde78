import type { Execution } from '../core/types.js';
import { VigilError } from '../errors.js';
import type { NewExecution } from '../ports/ledger-store.js';

interface Waiting {
  execution: NewExecution;
  resolve: (execution: Execution) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit for single registrations, as `HeartbeatBatcher` is for beats: registrations that
 * arrive in the same turn of the event loop are written in one transaction (one statement on
 * either dialect), and each caller gets its own row, or its own `already_exists`. When two callers
 * in one group name the same id, the one that arrived first wins, as it would have one at a time.
 */
export class RegistrationBatcher {
  private batch: Waiting[] = [];
  private scheduled = false;

  constructor(
    private readonly write: (executions: NewExecution[]) => Promise<(Execution | null)[]>,
    private readonly maxBatch = 1_000,
  ) {}

  register(execution: NewExecution): Promise<Execution> {
    return new Promise<Execution>((resolve, reject) => {
      if (this.batch.length >= this.maxBatch) this.flush();
      this.batch.push({ execution, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.batch;
    if (batch.length === 0) return;
    this.batch = [];
    this.write(batch.map((w) => w.execution)).then(
      (created) => settle(batch, created),
      (error: unknown) => {
        if (batch.length === 1) batch[0]?.reject(error);
        else void this.oneByOne(batch);
      },
    );
  }

  /**
   * After a group's write failed: one bad row fails the whole statement, so each is written alone,
   * in arrival order (the first of a repeated id still wins), and only its own caller sees its
   * error. A store that is down fails each of them as it failed the group.
   */
  private async oneByOne(batch: Waiting[]): Promise<void> {
    for (const w of batch) {
      await this.write([w.execution]).then(
        (created) => settle([w], created),
        (error: unknown) => w.reject(error),
      );
    }
  }
}

function settle(batch: Waiting[], created: (Execution | null)[]): void {
  batch.forEach((w, i) => {
    const execution = created[i];
    if (execution) w.resolve(execution);
    else w.reject(alreadyExists(w.execution.id));
  });
}

export const alreadyExists = (id: string): VigilError =>
  new VigilError('already_exists', `execution ${id} already exists`);
