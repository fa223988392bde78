/** Somewhere besides the ledger that executions live, swept after it (src/sources/). */
import type { ExecutionStore, SourceError, SweepDecision } from '../ports.js';
import type { Clock } from './clock.js';
import type { EngineConfig } from './engine-config.js';
import type { EventSink } from './events.js';

/** What a source is given for one sweep. */
export interface SourceSweepContext {
  /** The sweep's `now`: every judgement of this sweep is taken at this moment. */
  now: number;
  /** For the moment a write lands (`completed_at = now`). */
  clock: Clock;
  dryRun: boolean;
  sweepId: string;
  config: EngineConfig;
  events: EventSink;
  /** Vigil's own store, for the audit. */
  store: ExecutionStore;
}

/** What a source found and did in one sweep, merged into the sweep report. */
export interface SourceSweepResult {
  examined: number;
  decisions: SweepDecision[];
  counts: Record<string, number>;
  /** Problems that kept part of the source from being swept, each naming its configuration key. */
  errors: SourceError[];
}

/**
 * Somewhere other than Vigil's ledger that executions live: another app's tables, an HTTP list.
 * The sweeper calls each source after the ledger. A source isolates its own failures: one broken
 * table is reported in `errors` and the rest are still swept.
 */
export interface Source {
  readonly name: string;
  sweep(context: SourceSweepContext): Promise<SourceSweepResult>;
  /** Releases connections. */
  close(): Promise<void>;
}
