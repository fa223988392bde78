import type { ReadStore } from '../ports/read-store.js';
import type { LedgerStore } from '../ports/ledger-store.js';
import { describeIssue } from '../shared/config-issues.js';
import { randomUUID } from 'node:crypto';
import * as z from 'zod';
import { endAction } from '../core/decide.js';
import type { Execution, JsonValue, Limits, PartialLimits } from '../core/types.js';
import { isOpen } from '../core/types.js';
import type { PolicyConfig } from '../core/policy.js';
import { limitsFor, policyFor } from '../core/policy.js';
import { BadInputError, VigilError } from '../errors.js';
import { limitsSchema } from '../schemas.js';
import type { Clock } from '../ports.js';
import type {
  Beat,
  ClaimScope,
  HeartbeatResult,
  NewExecution,
  ReportOutcome,
} from '../ports/ledger-store.js';
import type { EventSink } from '../ports/events.js';
import type { BeatOutcome } from './heartbeat-batcher.js';
import { HeartbeatBatcher } from './heartbeat-batcher.js';
import { RegistrationBatcher, alreadyExists } from './registration-batcher.js';
import { StoreHealth } from './store-health.js';

/** A kind, owner or parent id: any text but control characters (PostgreSQL's text refuses NUL). */
const name = z
  .string()
  .min(1)
  .max(200)
  .refine((text) => !/\p{Cc}/u.test(text), 'expected text without control characters');
export const jsonSchema: z.ZodType<JsonValue> = z.lazy(() =>
  z.union([
    z.string(),
    z.number(),
    z.boolean(),
    z.null(),
    z.array(jsonSchema),
    z.record(z.string(), jsonSchema),
  ]),
);

export const newExecutionSchema = z.strictObject({
  id: z
    .string()
    .min(1)
    .max(200)
    .regex(/^[A-Za-z0-9._:@/-]+$/, 'expected letters, digits and . _ : @ / - only')
    .optional(),
  kind: name,
  owner: name.nullable().optional(),
  parentId: name.nullable().optional(),
  status: z.enum(['queued', 'running']).optional(),
  limits: limitsSchema.optional(),
  metadata: z.record(z.string(), jsonSchema).optional(),
});
export type NewExecutionInput = z.input<typeof newExecutionSchema>;
/** A registration as `newExecutionSchema` parsed it. */
export type ParsedNewExecution = z.output<typeof newExecutionSchema>;

export const attemptSchema = z.number().int().min(1);
export const progressSchema = z.union([z.string().max(1_000), z.number()]);

/** Parses input against a schema; a failure lists every field that is wrong. */
export function parseInput<T extends z.ZodType>(
  schema: T,
  input: unknown,
  prefix = '',
): z.output<T> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  throw new BadInputError(
    parsed.error.issues.map((issue) => {
      const path = [prefix, ...issue.path.map(String)].filter(Boolean).join('.');
      const detail =
        issue.code === 'unrecognized_keys'
          ? `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')}`
          : describeIssue(issue, input, schema);
      return path ? `${path}: ${detail}` : detail;
    }),
  );
}

/** The one answer for an execution that does not exist (or that the caller may not know of). */
export const executionNotFound = (id: string, prefix = ''): VigilError =>
  new VigilError('not_found', `${prefix}execution ${id} not found`);

/** What the ledger wakes when a write sets or moves a deadline: the `DeadlineScheduler`. */
export interface DeadlineAlarm {
  poke(deadlineAt: number | null): void;
}

export interface LedgerOptions {
  events?: EventSink | undefined;
  /**
   * Woken with the new deadline after a registration or a start, so a deadline earlier than the
   * scheduler's alarm is swept on time (not at the next safety-net sweep).
   */
  alarm?: DeadlineAlarm | undefined;
  /** Told that the database answers after each heartbeat write. Default: a health of its own. */
  health?: StoreHealth | undefined;
  /** Called after an attempt ended through the ledger (its slots are then due for release). */
  afterEnd?: ((id: string, attempt: number) => void) | undefined;
  /** Called after an execution of this kind was registered queued (runners may claim it). */
  afterQueue?: ((kind: string) => void) | undefined;
}

/**
 * Vigil's own ledger of executions: what runners (through the API, the SDK, `vigil exec` or the
 * CLI) register and report. Resolves limits from the configuration at registration and computes
 * retries for runner-reported failures with the same policy the watchdog uses. It wakes the
 * scheduler when a deadline comes earlier and reports the database's health, so a program that
 * embeds the ledger gets both without going through the HTTP routes.
 */
export class Ledger {
  /** The database's health as the ledger's writes find it. */
  readonly health: StoreHealth;
  private readonly events: EventSink | undefined;
  private readonly alarm: DeadlineAlarm | undefined;
  private readonly afterEnd: (id: string, attempt: number) => void;
  private readonly afterQueue: (kind: string) => void;

  constructor(
    private readonly store: LedgerStore & Pick<ReadStore, 'get'>,
    private readonly config: PolicyConfig,
    private readonly clock: Clock,
    options: LedgerOptions = {},
  ) {
    this.events = options.events;
    this.alarm = options.alarm;
    this.health = options.health ?? new StoreHealth();
    this.afterEnd = options.afterEnd ?? (() => undefined);
    this.afterQueue = options.afterQueue ?? (() => undefined);
  }

  /** One registration, written together with the others that arrive in the same tick. */
  async register(input: unknown): Promise<Execution> {
    return this.registerParsed(parseInput(newExecutionSchema, input));
  }

  /** `register` of a registration `newExecutionSchema` already parsed. */
  async registerParsed(parsed: ParsedNewExecution): Promise<Execution> {
    const execution = await this.registrations.register(this.resolve(parsed));
    this.alarm?.poke(execution.deadlineAt);
    if (execution.status === 'queued') this.afterQueue(execution.kind);
    return execution;
  }

  private readonly registrations = new RegistrationBatcher((executions) =>
    this.store.createMany(executions, this.clock.now()),
  );

  /**
   * Many registrations in one transaction. Answers in order: the execution, or `already_exists`
   * for an id that was taken (by an existing execution, or by an earlier item of this batch). The
   * scheduler is woken once, for the earliest deadline; runners waiting on a kind once per kind.
   */
  async registerMany(inputs: ParsedNewExecution[]): Promise<(Execution | VigilError)[]> {
    if (inputs.length === 0) return [];
    // The items of a batch mostly share a kind and an owner: their limits are resolved once.
    const resolved = new Map<string, Limits>();
    const executions = inputs.map((input) => this.resolve(input, resolved));
    const created = await this.store.createMany(executions, this.clock.now());
    let earliest: number | null = null;
    const queued = new Set<string>();
    const results = executions.map((input, i) => {
      const execution = created[i];
      if (!execution) return alreadyExists(input.id);
      const at = execution.deadlineAt;
      if (at !== null && (earliest === null || at < earliest)) earliest = at;
      if (execution.status === 'queued') queued.add(execution.kind);
      return execution;
    });
    if (earliest !== null) this.alarm?.poke(earliest);
    for (const kind of queued) this.afterQueue(kind);
    return results;
  }

  /** A parsed registration with its id chosen and its limits resolved through the chain. */
  private resolve(parsed: ParsedNewExecution, resolved?: Map<string, Limits>): NewExecution {
    const owner = parsed.owner ?? null;
    const own: PartialLimits = parsed.limits ?? {};
    // Only limits that come from the configuration alone are shared (keyed by kind and owner).
    const key =
      resolved && parsed.limits === undefined
        ? `${parsed.kind}\0${owner ?? ''}\0${owner === null}`
        : null;
    let limits = key === null ? undefined : resolved?.get(key);
    if (!limits) {
      limits = limitsFor(this.config, { kind: parsed.kind, owner, limits: own });
      if (key !== null) resolved?.set(key, limits);
    }
    return {
      id: parsed.id ?? randomUUID(),
      kind: parsed.kind,
      owner,
      parentId: parsed.parentId ?? null,
      status: parsed.status ?? 'running',
      limits,
      metadata: parsed.metadata ?? {},
    };
  }

  async get(id: string): Promise<Execution> {
    const execution = await this.store.get(id);
    if (!execution) throw executionNotFound(id);
    return execution;
  }

  async start(id: string, attempt: number): Promise<Execution> {
    const started = await this.store.start(id, attempt, this.clock.now());
    if (started) {
      this.alarm?.poke(started.deadlineAt);
      return started;
    }
    const execution = await this.get(id);
    throw new VigilError(
      'invalid_transition',
      `execution ${id} attempt ${attempt} cannot start: it is ${execution.status} on attempt ${execution.attempt}`,
      { execution },
    );
  }

  /**
   * Starts the oldest queued attempt of `scope` whose backoff has ended, for whoever asked: the
   * same compare-and-set as `start`, so a runner that claims can never share an attempt with
   * another claim or a start. Undefined when none is due.
   */
  async claim(scope: ClaimScope): Promise<Execution | undefined> {
    const claimed = await this.store.claim(scope, this.clock.now());
    if (claimed) this.alarm?.poke(claimed.deadlineAt);
    return claimed;
  }

  /**
   * Heartbeats, written together with the others that arrive meanwhile (HeartbeatBatcher); a write
   * that lands tells the health the store is up.
   */
  async heartbeat(beats: Beat[]): Promise<HeartbeatResult> {
    const result = await this.batcher.beatMany(beats);
    this.health.up();
    return result;
  }

  /** One heartbeat, written together with the others that arrive meanwhile. */
  async beat(beat: Beat): Promise<BeatOutcome> {
    const outcome = await this.batcher.beat(beat);
    this.health.up();
    return outcome;
  }

  private write(beats: Beat[]): Promise<HeartbeatResult> {
    return this.store.heartbeat(beats, this.clock.now());
  }

  private readonly batcher = new HeartbeatBatcher((beats) => this.write(beats));

  async complete(id: string, attempt: number, result?: JsonValue): Promise<ReportOutcome> {
    return this.settle(
      { id, attempt },
      this.store.report(
        { id, attempt },
        {
          status: 'succeeded',
          verdict: null,
          reason: null,
          endedBy: 'runner',
          result,
          retry: null,
        },
        this.clock.now(),
      ),
    );
  }

  async fail(
    id: string,
    attempt: number,
    error: JsonValue,
    retryable = false,
  ): Promise<ReportOutcome> {
    const now = this.clock.now();
    const execution = await this.get(id);
    const action = retryable
      ? endAction({ id, attempt }, 'runner_failed', policyFor(this.config, execution), now, false)
      : null;
    return this.settle(
      { id, attempt },
      this.store.report(
        { id, attempt },
        {
          status: action?.status ?? 'failed',
          verdict: null,
          reason: typeof error === 'string' ? error : 'failed by its runner',
          endedBy: 'runner',
          error,
          retry: action?.retry
            ? { attempt: action.retry.attempt, queuedAt: action.retry.queuedAt }
            : null,
        },
        now,
      ),
    );
  }

  /** An operator's cancel: ends whatever attempt is open now. */
  async cancel(id: string, reason?: string): Promise<Execution> {
    const execution = await this.get(id);
    if (!isOpen(execution.status)) {
      throw new VigilError('already_ended', `execution ${id} already ended (${execution.status})`, {
        execution,
      });
    }
    const won = await this.store.endAttempt(
      { id, attempt: execution.attempt, status: execution.status },
      {
        status: 'cancelled',
        verdict: null,
        reason: reason ?? 'cancelled by an operator',
        endedBy: 'operator',
        retry: null,
      },
      this.clock.now(),
    );
    if (!won) return this.cancel(id, reason);
    this.afterEnd(id, execution.attempt);
    return this.get(id);
  }

  private async settle(
    attempt: { id: string; attempt: number },
    pending: Promise<ReportOutcome>,
  ): Promise<ReportOutcome> {
    const outcome = await pending;
    if (outcome.kind === 'ended') this.afterEnd(attempt.id, attempt.attempt);
    if (outcome.kind === 'late' && outcome.kept) {
      const late = outcome.execution.lateResult;
      this.events?.emit({
        type: 'execution:late-result',
        at: this.clock.now(),
        executionId: outcome.execution.id,
        kind: outcome.execution.kind,
        attempt: late?.attempt ?? outcome.execution.attempt,
        status: late?.status,
      });
    }
    return outcome;
  }
}
