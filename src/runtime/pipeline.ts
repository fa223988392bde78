/**
 * The one remediation pipeline: load → decide → apply → record → emit. Every source (the ledger,
 * mapped tables, operation lists) goes through it, so every decision is counted in one tally,
 * audited with one id scheme and announced on one bus.
 */
import type { Tally as Counts } from '../core/types.js';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type {
  DecisionOutcome,
  RemediationRecord,
  SourceError,
  StepRecord,
  SweepDecision,
  SweepReport,
} from '../ports/audit-store.js';
import type { Decision } from '../core/decide.js';
import { actionLabel } from '../core/decide.js';
import type { GateView, Hold } from '../core/silence.js';
import { describeHold, holdEvidence, holdOf } from '../core/silence.js';
import type { Applied, Source, SourceContext } from '../ports/source.js';
import type { Subject } from '../ports/audit-store.js';
import type { VigilEvent } from './events.js';

/** What a sweep (or an operation-list check) found and did, merged into its report. */
export class Tally {
  examined = 0;
  readonly decisions: SweepDecision[] = [];
  readonly counts: Counts = { remediated: 0, skipped: 0, failed: 0 };
  /** Parts of sources that could not be swept; undefined until a source is swept. */
  errors: SourceError[] | undefined;

  /** Counts a decision by verdict and outcome, and lists it in the report unless healthy. */
  add(subject: Subject, outcome: DecisionOutcome): void {
    const { verdict } = subject;
    this.counts[verdict] = (this.counts[verdict] ?? 0) + 1;
    if (outcome === 'remediated' || outcome === 'dry_run') this.counts.remediated++;
    else if (outcome === 'failed' || outcome === 'left_running') this.counts.failed++;
    else this.counts.skipped++;
    if (outcome === 'silenced') this.bump('silenced');
    if (verdict === 'healthy') return;
    this.decisions.push({
      executionId: subject.executionId,
      attempt: subject.attempt,
      verdict,
      action: subject.action,
      reason: subject.reason,
      outcome,
    });
  }

  /** An item that could not be judged: failed, listed, and not counted under any verdict. */
  unjudged(failed: { executionId: string; attempt: number; reason: string }): void {
    this.counts.failed++;
    this.decisions.push({
      executionId: failed.executionId,
      attempt: failed.attempt,
      verdict: 'unknown',
      action: 'ignore',
      reason: failed.reason,
      outcome: 'failed',
    });
  }

  /** A part of a source that could not be swept. */
  problem(error: SourceError): void {
    (this.errors ??= []).push(error);
    this.counts.failed++;
  }

  /** Adds to a named count (slot releases, a lost lease), leaving it out while zero. */
  bump(name: string, n = 1): void {
    if (n > 0) this.counts[name] = (this.counts[name] ?? 0) + n;
  }

  report(head: Omit<SweepReport, 'examined' | 'decisions' | 'counts'>): SweepReport {
    return {
      ...head,
      examined: this.examined,
      decisions: this.decisions,
      counts: { ...this.counts },
      ...(this.errors ? { sourceErrors: this.errors } : {}),
    };
  }
}

/** Where audit rows go: the store's remediations table (or nowhere, for `vigil probe`). */
export type AuditSink = (records: RemediationRecord[]) => Promise<void>;

export interface PipelineOptions {
  now: number;
  sweepId: string | null;
  dryRun: boolean;
  emit: (event: VigilEvent) => void;
  record: AuditSink;
  tally?: Tally | undefined;
  /**
   * The maintenance windows and the pause in force for this pass: a destructive decision they
   * match is held back here, the one place where decisions become actions. Absent: none.
   */
  gate?: GateView | undefined;
  /**
   * Held-back decisions already audited (execution and attempt → the hold), kept by the caller
   * across passes so that a window holds an execution with one audit row, not one per sweep.
   */
  heldAudited?: Map<string, string> | undefined;
}

/** Bounds `heldAudited`: past this many entries it starts again (at worst a repeated audit row). */
const MAX_HELD_AUDITED = 10_000;

/** One pass of the pipeline: a sweep, or one check of an operation list. */
export class Pipeline {
  readonly tally: Tally;

  constructor(private readonly options: PipelineOptions) {
    this.tally = options.tally ?? new Tally();
  }

  /** Runs a source to its end; one that throws is a problem of its own, never the sweep's. */
  async run<Item, Decision, Context extends SourceContext>(
    source: Source<Item, Decision, Context>,
    context: Context,
  ): Promise<void> {
    try {
      for await (const step of source.load(context)) {
        if (step.kind === 'problem') this.tally.problem(step.error);
        else await this.page(source, step.items, context);
      }
    } catch (error) {
      this.tally.problem({ source: source.name, key: source.name, message: errorMessage(error) });
    }
  }

  /** decide → apply → record → emit, for one page of items. */
  async page<Item, Decision, Context extends SourceContext>(
    source: Pick<Source<Item, Decision, Context>, 'decide' | 'apply' | 'destructive' | 'hold'>,
    items: readonly Item[],
    context: Context,
  ): Promise<readonly Applied[]> {
    const judged: { item: Item; decision: Decision }[] = [];
    for (const item of items) {
      this.tally.examined++;
      const one = source.decide(item, context);
      if ('failed' in one) this.tally.unjudged(one.failed);
      else judged.push(one);
    }
    if (judged.length === 0) return [];
    const { acting, held } = this.gate(source, judged, context);
    const applied = acting.length > 0 ? await source.apply(acting, context, this.options.emit) : [];
    if (held.length > 0 && !context.dryRun) {
      await source.hold?.(
        held.map(({ item, decision, hold }) => ({ item, decision, until: hold.until })),
        context,
      );
    }
    const all = [...held.map((h) => h.applied), ...applied];
    await this.settle(all);
    return all;
  }

  /**
   * The gate: splits a page's decisions into those to act on and those a maintenance window or
   * the pause holds back. Every destructive decision of every source passes here before `apply`,
   * so no source needs a check of its own. A held decision is audited (once per hold) as
   * `silenced`, with the window's id; in a dry run too, so a dry run shows what would be held.
   */
  private gate<Item, Decision, Context extends SourceContext>(
    source: Pick<Source<Item, Decision, Context>, 'destructive'>,
    judged: readonly { item: Item; decision: Decision }[],
    context: Context,
  ) {
    const { gate } = this.options;
    const acting: { item: Item; decision: Decision }[] = [];
    const held: { item: Item; decision: Decision; hold: Hold; applied: Applied }[] = [];
    for (const j of judged) {
      const destructive = gate && source.destructive?.(j.item, j.decision, context);
      const hold = destructive ? holdOf(gate, destructive.target, this.options.now) : null;
      if (!destructive || !hold) acting.push(j);
      else held.push({ ...j, hold, applied: this.withheld(destructive.subject, hold) });
    }
    return { acting, held };
  }

  private withheld(subject: Subject, hold: Hold): Applied {
    const because = describeHold(hold);
    const key = `${subject.executionId}#${subject.attempt}`;
    const holdKey = hold.kind === 'paused' ? `pause@${hold.pause.since}` : hold.silence.id;
    const audited = this.options.heldAudited;
    const audit = audited?.get(key) !== holdKey;
    if (audit && audited && !this.options.dryRun) {
      if (audited.size >= MAX_HELD_AUDITED) audited.clear();
      audited.set(key, holdKey);
    }
    return {
      subject: {
        ...subject,
        reason: `${subject.reason}; held: ${because}`,
        evidence: { ...subject.evidence, ...holdEvidence(hold), wouldHave: subject.action },
      },
      outcome: 'silenced',
      steps: [{ step: 'end', outcome: 'skipped', ms: 0, detail: `held: ${because}` }],
      audit,
      id: audit ? auditId(this.options.now) : undefined,
      events: [],
    };
  }

  /** record → emit: audits what was done (one page in one write), counts it, then announces it. */
  async settle(applied: readonly Applied[]): Promise<void> {
    const records: RemediationRecord[] = [];
    for (const a of applied) {
      if (a.tally !== false) this.tally.add(a.subject, a.outcome);
      if (a.audit !== true) continue;
      const subject = a.note
        ? { ...a.subject, reason: `${a.subject.reason} (${a.note})` }
        : a.subject;
      records.push(this.auditRecord(subject, a.outcome, a.steps, a.id));
    }
    if (records.length > 0) await this.options.record(records);
    for (const a of applied) for (const event of a.events) this.options.emit(event);
  }

  /** The audit row of a decision, with an id in this process's order (see `auditId`). */
  auditRecord(
    subject: Subject,
    outcome: DecisionOutcome,
    steps: StepRecord[],
    id: string = auditId(this.options.now),
  ): RemediationRecord {
    const { now, sweepId, dryRun } = this.options;
    return { ...subject, id, sweepId, at: now, steps, outcome, dryRun };
  }
}

let auditSequence = 0;
/**
 * The one audit-id scheme: ids sort by time, then by the order decisions were taken in this
 * process (the store lists remediations by `at`, then `id`); the random tail keeps replicas apart.
 */
export function auditId(now: number): string {
  auditSequence = (auditSequence + 1) % 36 ** 6;
  return `${now.toString(36).padStart(9, '0')}-${auditSequence.toString(36).padStart(6, '0')}-${randomUUID().slice(0, 8)}`;
}

/** Milliseconds since `started` (a `performance.now()`), to the microsecond. */
export const elapsed = (started: number) => Math.round((performance.now() - started) * 1000) / 1000;

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A decision as its audit row and report line name it. */
export function subjectOf(decision: Decision): Subject {
  return {
    executionId: decision.executionId,
    attempt: decision.attempt,
    kind: decision.kind,
    owner: decision.owner,
    verdict: decision.verdict,
    action: actionLabel(decision.action),
    reason: decision.reason,
    evidence: decision.evidence,
  };
}

/** Gives the event loop a turn: heartbeats and event streams keep flowing while a sweep runs. */
export const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));
