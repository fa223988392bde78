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
      (created) => {
        batch.forEach((w, i) => {
          const execution = created[i];
          if (execution) w.resolve(execution);
          else w.reject(alreadyExists(w.execution.id));
        });
      },
      (error: unknown) => {
        for (const w of batch) w.reject(error);
      },
    );
  }
}

export const alreadyExists = (id: string): VigilError =>
  new VigilError('already_exists', `execution ${id} already exists`);
