export type { Source, SourceSweepContext, SourceSweepResult } from '../ports/source.js';

/** A problem with one source, named by its configuration key (`tables.interactions.status.column`). */
export class SourceProblem extends Error {
  override readonly name = 'SourceProblem';
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(message);
  }
}
