import { randomUUID } from 'node:crypto';
import type { OperationMemory, OperationVerdict } from '../core/operations.js';
import { decideOperationActions, judgeOperation } from '../core/operations.js';
import type { JsonValue } from '../core/types.js';
import type { Clock, ExecutionStore, RemediationRecord, StepRecord } from '../ports.js';
import { httpRequest } from '../shared/http-request.js';
import type { EventSink } from '../ports/events.js';
import { PeriodicChecks } from '../shared/periodic.js';
import type { HttpListSpec } from './http-list-config.js';
import { HTTP_LIST_DEFAULTS } from './http-list-config.js';
import { readHttpList } from './http-list.js';

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

export interface ActionTaken {
  operationId: string;
  notified: boolean;
  cancel: { ok: boolean; detail: string } | null;
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
}

/**
 * Watches HTTP operation lists: reads each list, judges each operation, notifies once per stuck
 * operation and asks the API to cancel it when configured, auditing every decision. Sources are
 * independent: one that is unreachable, errs or answers garbage is reported `unknown` and the
 * others are still checked.
 */
/** A source not checked yet. */
function pendingSource(spec: HttpListSpec): SourceStatus {
  return {
    name: spec.name,
    url: spec.url,
    state: 'pending',
    lastCheckAt: null,
    lastError: null,
    skipped: [],
  };
}

export class HttpListWatcher extends PeriodicChecks<HttpListSpec, SourceCheck> {
  private readonly memory = new Map<string, Map<string, OperationMemory>>();
  private readonly verdicts = new Map<string, OperationVerdict[]>();
  private readonly sources = new Map<string, SourceStatus>();

  constructor(private readonly options: HttpListWatcherOptions) {
    super(options.sources);
    for (const spec of options.sources) this.sources.set(spec.name, pendingSource(spec));
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
      sources: this.options.sources.map((s) => ({ ...this.sourceOf(s) })),
    };
  }

  /** A source's state: as last checked, or pending before its first check. */
  private sourceOf(spec: HttpListSpec): SourceStatus {
    return this.sources.get(spec.name) ?? pendingSource(spec);
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
    const read = await readHttpList(spec);
    const now = clock.now();
    if (read.kind === 'unknown') {
      // Keep what was known: an outage of the list is not a change of its operations.
      return this.finish(
        spec,
        { state: 'unknown', lastError: read.reason, skipped: [] },
        this.verdicts.get(spec.name) ?? [],
        [],
        now,
      );
    }
    const before = this.memory.get(spec.name) ?? new Map<string, OperationMemory>();
    const after = new Map<string, OperationMemory>();
    const verdicts: OperationVerdict[] = [];
    const actions: ActionTaken[] = [];
    for (const observed of read.operations) {
      const remembered = before.get(observed.id);
      const judged = judgeOperation(observed, remembered, spec, now);
      let memory = judged.memory;
      if (judged.verdict.stuck && remembered === undefined) {
        memory = await this.recall(spec, judged.verdict, memory);
      }
      verdicts.push(judged.verdict);
      try {
        const acted = await this.act(spec, judged.verdict, memory, now);
        memory = acted.memory;
        if (acted.taken) actions.push(acted.taken);
      } catch (error) {
        this.options.onError?.(error, `operation ${spec.name}:${observed.id}`);
      }
      after.set(observed.id, memory);
    }
    this.memory.set(spec.name, after);
    return this.finish(
      spec,
      { state: 'ok', lastError: null, skipped: read.skipped },
      verdicts,
      actions,
      now,
    );
  }

  private finish(
    spec: HttpListSpec,
    outcome: Pick<SourceStatus, 'state' | 'lastError' | 'skipped'>,
    verdicts: OperationVerdict[],
    actions: ActionTaken[],
    at: number | null = null,
  ): SourceCheck {
    const previous = this.sourceOf(spec);
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

  /**
   * A stuck operation seen for the first time may have been handled before this Vigil started (or
   * took the source over from another replica): when the latest audit row is for the same episode
   * (the same last change), it is not notified or cancelled a second time.
   */
  private async recall(
    spec: HttpListSpec,
    verdict: OperationVerdict,
    memory: OperationMemory,
  ): Promise<OperationMemory> {
    if (!this.options.audit || verdict.lastUpdateAt === null) return memory;
    try {
      const latest = await this.options.audit.latest(`${spec.name}:${verdict.id}`);
      if (latest && latest.evidence.lastChangeAt === verdict.evidence.lastChangeAt) {
        const attempts = latest.evidence.cancelAttempts;
        return {
          ...memory,
          notified: true,
          cancelled: latest.outcome === 'remediated',
          cancelAttempts: typeof attempts === 'number' ? attempts : 0,
        };
      }
    } catch (error) {
      this.options.onError?.(error, `audit of ${spec.name}:${verdict.id}`);
    }
    return memory;
  }

  private async act(
    spec: HttpListSpec,
    verdict: OperationVerdict,
    memory: OperationMemory,
    now: number,
  ): Promise<{ memory: OperationMemory; taken: ActionTaken | null }> {
    const todo = decideOperationActions(verdict, memory, {
      notify: spec.actions.notify,
      cancel: spec.actions.cancel !== null,
      maxCancelAttempts: HTTP_LIST_DEFAULTS.maxCancelAttempts,
    });
    if (!todo.notify && !todo.cancel) return { memory, taken: null };
    const next = { ...memory };
    const steps: StepRecord[] = [];
    let cancel: ActionTaken['cancel'] = null;
    if (todo.cancel && spec.actions.cancel) {
      const started = this.options.clock.now();
      cancel = await this.cancel(spec, spec.actions.cancel, verdict.id);
      next.cancelAttempts++;
      next.cancelled = cancel.ok;
      steps.push({
        step: 'terminate',
        outcome: cancel.ok ? 'ok' : 'failed',
        ms: this.options.clock.now() - started,
        detail: cancel.detail,
      });
    }
    const evidence: Record<string, JsonValue> = {
      ...verdict.evidence,
      source: spec.name,
      url: spec.url,
      cancelAttempts: next.cancelAttempts,
      ...(cancel ? { cancel: { ok: cancel.ok, detail: cancel.detail } } : {}),
    };
    if (todo.notify) {
      this.options.events.emit({
        type: 'execution:stuck',
        at: now,
        source: spec.name,
        operationId: verdict.id,
        reason: verdict.reason,
        evidence,
      });
      next.notified = true;
      steps.push({ step: 'notify', outcome: 'ok', ms: 0 });
    }
    await this.audit(spec, verdict, evidence, steps, cancel, now);
    return { memory: next, taken: { operationId: verdict.id, notified: todo.notify, cancel } };
  }

  private async cancel(
    spec: HttpListSpec,
    cancel: NonNullable<HttpListSpec['actions']['cancel']>,
    id: string,
  ): Promise<{ ok: boolean; detail: string }> {
    const url = cancel.url.replaceAll('{id}', encodeURIComponent(id));
    const answer = await httpRequest(url, {
      method: cancel.method,
      headers: spec.headers,
      timeoutMs: spec.timeoutMs,
      maxBodyBytes: 4_096,
    });
    if (answer.kind === 'error')
      return { ok: false, detail: `${cancel.method} ${url}: ${answer.error}` };
    const ok = answer.status >= 200 && answer.status <= 299;
    return { ok, detail: `${cancel.method} ${url}: HTTP ${answer.status}` };
  }

  private async audit(
    spec: HttpListSpec,
    verdict: OperationVerdict,
    evidence: Record<string, JsonValue>,
    steps: StepRecord[],
    cancel: ActionTaken['cancel'],
    now: number,
  ): Promise<void> {
    if (!this.options.audit) return;
    const record: RemediationRecord = {
      id: randomUUID(),
      sweepId: null,
      at: now,
      executionId: `${spec.name}:${verdict.id}`,
      attempt: 1,
      kind: 'operation',
      owner: spec.name,
      // The operation's state has not moved within its limit: the ledger's "no progress".
      verdict: 'no_progress',
      action: cancel ? 'cancel' : 'notify',
      reason: verdict.reason,
      evidence,
      steps,
      // Notified only: the operation is left running, as the audit of the ledger says it.
      outcome: cancel === null ? 'left_running' : cancel.ok ? 'remediated' : 'failed',
      dryRun: false,
    };
    try {
      await this.options.audit.record(record);
    } catch (error) {
      // An audit that cannot be written must not undo or block what was done; it is reported.
      this.options.onError?.(error, `audit of ${record.executionId}`);
    }
  }
}
