import type { OperationVerdict } from '../core/operations.js';
import type { Clock } from '../ports.js';
import type { RemediationRecord } from '../ports/audit-store.js';
import type { ExecutionStore } from '../ports/execution-store.js';
import type { SourceContext } from '../ports/source.js';
import type { HttpListSpec } from '../sources/http-list-config.js';
import { readFrom } from '../sources/http-list-config.js';
import type { ActionTaken } from '../sources/http-list-source.js';
import { HttpListSource } from '../sources/http-list-source.js';
import type { EventSink } from '../ports/events.js';
import { Pipeline } from '../runtime/pipeline.js';
import type { GateReader } from '../runtime/gate.js';
import { PeriodicChecks } from '../shared/periodic.js';

export type { ActionTaken } from '../sources/http-list-source.js';

/** One operation as `GET /v1/operations` shows it. */
export interface OperationStatus {
  source: string;
  id: string;
  status: string;
  lastUpdateAt: number | null;
  stuck: boolean;
  stuckForMs: number | null;
}

/**
 * One source's last check: `ok`, `unknown` (its answer could not be used; nothing was done), or
 * `standby` (another replica holds this source's lease and watches it).
 */
export interface SourceStatus {
  name: string;
  url: string;
  state: 'pending' | 'ok' | 'unknown' | 'standby';
  lastCheckAt: number | null;
  lastError: string | null;
  /** Items of the last answer that could not be read, each with why. */
  skipped: string[];
}

export interface SourceCheck {
  source: SourceStatus;
  verdicts: OperationVerdict[];
  actions: ActionTaken[];
}

/** Where decisions about listed operations are audited: Vigil's remediations trail. */
export interface OperationAudit {
  record(record: RemediationRecord): Promise<void>;
  /** The latest audit row of one operation (`source:id`), to recognise an episode already handled. */
  latest(key: string): Promise<RemediationRecord | undefined>;
}

/** Audits into the store's remediations table, so `vigil history` and `GET /v1/remediations` show it. */
export function storeAudit(store: ExecutionStore): OperationAudit {
  return {
    record: (record) => store.recordRemediations([record]),
    latest: async (key) => (await store.listRemediations({ executionId: key, limit: 1 }))[0],
  };
}

/** Takes a named lease; false while another replica holds it. */
export type LeaseTaker = (name: string, now: number, ttlMs: number) => Promise<boolean>;

export interface HttpListWatcherOptions {
  sources: readonly HttpListSpec[];
  clock: Clock;
  events: EventSink;
  /** Where decisions are audited; none for `vigil probe`, which runs without a store. */
  audit?: OperationAudit | undefined;
  /** With several replicas, only the holder of a source's lease checks it and acts. */
  lease?: LeaseTaker | undefined;
  onError?: ((error: unknown, where: string) => void) | undefined;
  /** The pause and the maintenance windows, read before each check; none when absent. */
  gate?: GateReader | undefined;
}

/**
 * Watches HTTP operation lists: each check runs one list through the pipeline (read, judge each
 * operation, notify once per stuck operation and ask the API to cancel it when configured, audit
 * every decision). Sources are independent: one that is unreachable, errs or answers garbage is
 * reported `unknown` and the others are still checked.
 */
export class HttpListWatcher extends PeriodicChecks<HttpListSpec, SourceCheck> {
  private readonly lists = new Map<string, HttpListSource>();
  private readonly verdicts = new Map<string, OperationVerdict[]>();
  private readonly sources = new Map<string, SourceStatus>();
  /** Cancels held back and audited already (see Pipeline). */
  private readonly heldAudited = new Map<string, string>();

  constructor(private readonly options: HttpListWatcherOptions) {
    super(options.sources);
    const { audit, onError } = options;
    const latest = audit && ((key: string) => audit.latest(key));
    for (const spec of options.sources) {
      this.lists.set(spec.name, new HttpListSource(spec, { latest, onError }));
      this.sources.set(spec.name, pendingSource(spec));
    }
  }

  private sourceStatus(spec: HttpListSpec): SourceStatus {
    return this.sources.get(spec.name) ?? pendingSource(spec);
  }

  /** The list source of a configured spec (made in the constructor, one per spec). */
  private listOf(spec: HttpListSpec): HttpListSource {
    const list = this.lists.get(spec.name);
    if (list === undefined) throw new Error(`operations ${spec.name}: not configured`);
    return list;
  }

  /** Every operation of every source as last seen, and each source's state. */
  status(): { items: OperationStatus[]; sources: SourceStatus[] } {
    const items: OperationStatus[] = [];
    for (const spec of this.options.sources) {
      for (const v of this.verdicts.get(spec.name) ?? []) {
        items.push({
          source: spec.name,
          id: v.id,
          status: v.status,
          lastUpdateAt: v.lastUpdateAt,
          stuck: v.stuck,
          stuckForMs: v.stuckForMs,
        });
      }
    }
    return {
      items,
      sources: this.options.sources.map((s) => ({ ...this.sourceStatus(s) })),
    };
  }

  protected describe(name: string): string {
    return `operations ${name}`;
  }

  protected reportError(error: unknown, where: string): void {
    this.options.onError?.(error, where);
  }

  protected async runCheck(spec: HttpListSpec): Promise<SourceCheck> {
    const { clock, lease } = this.options;
    // The lease outlives two missed checks, so a replica that dies hands its sources over soon,
    // while a slow check (up to its timeout) never lets a second replica act at the same time.
    const ttlMs = 2 * spec.intervalMs + spec.timeoutMs;
    if (lease && !(await lease(`http-list:${spec.name}`, clock.now(), ttlMs))) {
      return this.finish(spec, { state: 'standby', lastError: null, skipped: [] }, [], []);
    }
    const list = this.listOf(spec);
    const context: SourceContext = {
      now: clock.now(),
      clock,
      dryRun: false,
      sweepId: null,
    };
    const pipeline = new Pipeline({
      now: context.now,
      sweepId: null,
      dryRun: false,
      emit: (event) => this.options.events.emit(event),
      record: (records) => this.record(records),
      gate: await this.options.gate?.(context.now),
      heldAudited: this.heldAudited,
    });
    await pipeline.run(list, context);
    const read = list.lastRead;
    if (read === null || read.kind === 'unknown') {
      // Keep what was known: an outage of the list is not a change of its operations.
      const reason = read?.reason ?? pipeline.tally.errors?.[0]?.message ?? 'not read';
      return this.finish(
        spec,
        { state: 'unknown', lastError: reason, skipped: [] },
        this.verdicts.get(spec.name) ?? [],
        [],
        context.now,
      );
    }
    return this.finish(
      spec,
      { state: 'ok', lastError: null, skipped: read.skipped },
      read.verdicts,
      read.actions,
      context.now,
    );
  }

  /** Audits each decision; an audit that cannot be written must not undo or block what was done. */
  private async record(records: readonly RemediationRecord[]): Promise<void> {
    const { audit, onError } = this.options;
    if (!audit) return;
    for (const record of records) {
      try {
        await audit.record(record);
      } catch (error) {
        onError?.(error, `audit of ${record.executionId}`);
      }
    }
  }

  private finish(
    spec: HttpListSpec,
    outcome: Pick<SourceStatus, 'state' | 'lastError' | 'skipped'>,
    verdicts: OperationVerdict[],
    actions: ActionTaken[],
    at: number | null = null,
  ): SourceCheck {
    const previous = this.sourceStatus(spec);
    const source: SourceStatus = {
      ...previous,
      ...outcome,
      lastCheckAt: at ?? previous.lastCheckAt,
    };
    this.sources.set(spec.name, source);
    if (outcome.state === 'standby') this.verdicts.delete(spec.name);
    else this.verdicts.set(spec.name, verdicts);
    return { source, verdicts, actions };
  }
}

/** A source not checked yet. */
function pendingSource(spec: HttpListSpec): SourceStatus {
  return {
    name: spec.name,
    url: readFrom(spec),
    state: 'pending',
    lastCheckAt: null,
    lastError: null,
    skipped: [],
  };
}
