/**
 * One HTTP list of operations as a source: `load` reads the list and judges each operation against
 * what was seen before, `decide` says whether to notify and cancel (core), `apply` asks the API to
 * cancel and returns what was done. The pipeline audits and announces it.
 */
import type { OperationMemory, OperationVerdict } from '../core/operations.js';
import { decideOperationActions, judgeOperation } from '../core/operations.js';
import type { JsonValue } from '../core/types.js';
import type { RemediationRecord, StepRecord } from '../ports/audit-store.js';
import type { Applied, Judged, Source, SourceContext, SourcePage } from '../ports/source.js';
import { httpRequest } from '../shared/http-request.js';
import type { HttpListSpec } from './http-list-config.js';
import { HTTP_LIST_DEFAULTS, readFrom } from './http-list-config.js';
import { readOperations } from './http-list.js';

/** One operation of the list, judged, with what is remembered about it. */
export interface OperationItem {
  verdict: OperationVerdict;
  memory: OperationMemory;
}

export interface OperationActions {
  notify: boolean;
  cancel: boolean;
}

export interface ActionTaken {
  operationId: string;
  notified: boolean;
  cancel: { ok: boolean; detail: string } | null;
}

/** The last read of the list: its operations judged, or why it could not be used. */
export type LastRead =
  | { kind: 'ok'; verdicts: OperationVerdict[]; skipped: string[]; actions: ActionTaken[] }
  | { kind: 'unknown'; reason: string };

export interface HttpListSourceOptions {
  /** The latest audit row of one operation (`source:id`), to recognise an episode already handled. */
  latest?: ((key: string) => Promise<RemediationRecord | undefined>) | undefined;
  onError?: ((error: unknown, where: string) => void) | undefined;
}

export class HttpListSource implements Source<OperationItem, OperationActions, SourceContext> {
  readonly name: string;
  /** What was seen of each operation at the last read, by id. */
  private memory = new Map<string, OperationMemory>();
  /** The read under way; committed to `memory` once its operations have been acted on. */
  private next = new Map<string, OperationMemory>();
  lastRead: LastRead | null = null;

  constructor(
    readonly spec: HttpListSpec,
    private readonly options: HttpListSourceOptions = {},
  ) {
    this.name = spec.name;
  }

  async *load(context: SourceContext): AsyncIterable<SourcePage<OperationItem>> {
    const { spec } = this;
    this.lastRead = null;
    const read = await readOperations(spec);
    if (read.kind === 'unknown') {
      // Keep what was known: an outage of the list is not a change of its operations.
      this.lastRead = read;
      yield { kind: 'problem', error: { source: spec.name, key: spec.name, message: read.reason } };
      return;
    }
    this.next = new Map();
    const items: OperationItem[] = [];
    for (const observed of read.operations) {
      const remembered = this.memory.get(observed.id);
      const judged = judgeOperation(observed, remembered, spec, context.now);
      let memory = judged.memory;
      if (judged.verdict.stuck && remembered === undefined) {
        memory = await this.recall(judged.verdict, memory);
      }
      this.next.set(observed.id, memory);
      items.push({ verdict: judged.verdict, memory });
    }
    this.lastRead = {
      kind: 'ok',
      verdicts: items.map((i) => i.verdict),
      skipped: read.skipped,
      actions: [],
    };
    yield { kind: 'page', items };
    this.memory = this.next;
  }

  decide(item: OperationItem): Judged<OperationItem, OperationActions> {
    const decision = decideOperationActions(item.verdict, item.memory, {
      notify: this.spec.actions.notify,
      cancel: this.spec.actions.cancel !== null,
      maxCancelAttempts: HTTP_LIST_DEFAULTS.maxCancelAttempts,
    });
    return { item, decision };
  }

  /** A cancel request is destructive; a notification alone is not. */
  destructive({ verdict }: OperationItem, decision: OperationActions) {
    if (!decision.cancel || this.spec.actions.cancel === null) return null;
    const { name } = this.spec;
    return {
      target: {
        source: `operations:${name}`,
        kind: 'operation',
        owner: name,
        verdict: 'no_progress',
      },
      subject: {
        executionId: `${name}:${verdict.id}`,
        attempt: 1,
        kind: 'operation',
        owner: name,
        verdict: 'no_progress' as const,
        action: 'cancel' as const,
        reason: verdict.reason,
        evidence: { ...verdict.evidence, source: name, url: readFrom(this.spec) },
      },
    };
  }

  async apply(
    judged: readonly { item: OperationItem; decision: OperationActions }[],
    context: SourceContext,
  ): Promise<Applied[]> {
    const applied: Applied[] = [];
    for (const { item, decision } of judged) {
      if (!decision.notify && !decision.cancel) continue;
      try {
        applied.push(await this.act(item, decision, context));
      } catch (error) {
        this.options.onError?.(error, `operation ${this.spec.name}:${item.verdict.id}`);
      }
    }
    return applied;
  }

  async close(): Promise<void> {}

  /**
   * A stuck operation seen for the first time may have been handled before this Vigil started (or
   * took the source over from another replica): when the latest audit row is for the same episode
   * (the same last change), it is not notified or cancelled a second time.
   */
  private async recall(
    verdict: OperationVerdict,
    memory: OperationMemory,
  ): Promise<OperationMemory> {
    const { latest, onError } = this.options;
    if (!latest || verdict.lastUpdateAt === null) return memory;
    try {
      const last = await latest(`${this.spec.name}:${verdict.id}`);
      if (last && last.evidence.lastChangeAt === verdict.evidence.lastChangeAt) {
        const attempts = last.evidence.cancelAttempts;
        return {
          ...memory,
          notified: true,
          cancelled: last.outcome === 'remediated',
          cancelAttempts: typeof attempts === 'number' ? attempts : 0,
        };
      }
    } catch (error) {
      onError?.(error, `audit of ${this.spec.name}:${verdict.id}`);
    }
    return memory;
  }

  private async act(
    { verdict, memory }: OperationItem,
    todo: OperationActions,
    context: SourceContext,
  ): Promise<Applied> {
    const { spec } = this;
    const next = { ...memory };
    const steps: StepRecord[] = [];
    let cancel: ActionTaken['cancel'] = null;
    if (todo.cancel && spec.actions.cancel) {
      const started = context.clock.now();
      cancel = await this.cancel(spec.actions.cancel, verdict.id);
      next.cancelAttempts++;
      next.cancelled = cancel.ok;
      steps.push({
        step: 'terminate',
        outcome: cancel.ok ? 'ok' : 'failed',
        ms: context.clock.now() - started,
        detail: cancel.detail,
      });
    }
    const evidence: Record<string, JsonValue> = {
      ...verdict.evidence,
      source: spec.name,
      url: readFrom(spec),
      cancelAttempts: next.cancelAttempts,
      ...(cancel ? { cancel: { ok: cancel.ok, detail: cancel.detail } } : {}),
    };
    const done: Applied = {
      subject: {
        executionId: `${spec.name}:${verdict.id}`,
        attempt: 1,
        kind: 'operation',
        owner: spec.name,
        // The operation's state has not moved within its limit: the ledger's "no progress".
        verdict: 'no_progress',
        action: cancel ? 'cancel' : 'notify',
        reason: verdict.reason,
        evidence,
      },
      // Notified only: the operation is left running, as the audit of the ledger says it.
      outcome: cancel === null ? 'left_running' : cancel.ok ? 'remediated' : 'failed',
      steps,
      audit: true,
      tally: false,
      events: [],
    };
    if (todo.notify) {
      done.events.push({
        type: 'execution:stuck',
        at: context.now,
        source: spec.name,
        operationId: verdict.id,
        reason: verdict.reason,
        evidence,
      });
      next.notified = true;
      steps.push({ step: 'notify', outcome: 'ok', ms: 0 });
    }
    this.next.set(verdict.id, next);
    if (this.lastRead?.kind === 'ok') {
      this.lastRead.actions.push({ operationId: verdict.id, notified: todo.notify, cancel });
    }
    return done;
  }

  private async cancel(
    cancel: NonNullable<HttpListSpec['actions']['cancel']>,
    id: string,
  ): Promise<{ ok: boolean; detail: string }> {
    const url = cancel.url.replaceAll('{id}', encodeURIComponent(id));
    const answer = await httpRequest(url, {
      method: cancel.method,
      headers: this.spec.headers,
      timeoutMs: this.spec.timeoutMs,
      maxBodyBytes: 4_096,
    });
    if (answer.kind === 'error')
      return { ok: false, detail: `${cancel.method} ${url}: ${answer.error}` };
    const ok = answer.status >= 200 && answer.status <= 299;
    return { ok, detail: `${cancel.method} ${url}: HTTP ${answer.status}` };
  }
}
