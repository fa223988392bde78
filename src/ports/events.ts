/**
 * What Vigil announces as it works: the event types, each with its own fields, and the two sides
 * of the bus that carries them. Emitters (the sweep, sources, probes, the supervisor) receive an
 * `EventSink`; listeners (notifications, the SSE stream, metrics) an `EventFeed`. The in-process
 * bus that implements both is `EventBus` in src/runtime/events.ts.
 */
import type { ActionLabel } from '../core/decide.js';
import type { ProcessVerdict } from '../core/process-health.js';
import type { EndStatus, ExecutionVerdict, JsonValue, Status } from '../core/types.js';

/** Event names, the same on the SSE stream, in logs and in metrics labels. */
export const EVENT_TYPES = [
  'execution:stuck',
  'execution:remediated',
  'execution:late-result',
  'execution:dead',
  'execution:escalated',
  'owner:unreachable',
  'breaker:opened',
  'breaker:closed',
  'sweep:completed',
  'process:unhealthy',
  'process:recovered',
  'process:gave-up',
  'probe:failing',
  'probe:recovered',
  'schedule:missed',
  'schedule:late',
  'schedule:failed',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** An execution judged by a sweep: of the ledger, or a row of a mapped table. */
export interface JudgedExecution {
  executionId: string;
  attempt: number;
  verdict: ExecutionVerdict;
  reason: string;
  /** The execution's kind (ledger executions; a mapped row has none). */
  kind?: string;
  /** A mapped table's row: the source's name, its table, and the row's id. */
  source?: string;
  table?: string;
  rowId?: string;
}

/** An operation of an HTTP list found stuck: it has no execution id, only the list's own id. */
export interface StuckOperation {
  /** The operation list's name (`operations.NAME`). */
  source: string;
  operationId: string;
  reason: string;
  evidence: Record<string, JsonValue>;
}

export type ExecutionStuckEvent = { type: 'execution:stuck'; at: number } & (
  JudgedExecution | StuckOperation
);

export interface ExecutionRemediatedEvent extends JudgedExecution {
  type: 'execution:remediated';
  at: number;
  /** What the execution is now: `queued` again for a retry, or how its attempt ended. */
  status: Status;
  action: ActionLabel;
  /** A mapped row: the status value written to it. */
  rowStatus?: string | number;
}

export interface ExecutionDeadEvent extends JudgedExecution {
  type: 'execution:dead';
  at: number;
}

export interface ExecutionEscalatedEvent extends JudgedExecution {
  type: 'execution:escalated';
  at: number;
  /** Failed terminations in a row so far. */
  failures: number;
}

/** A runner reported after the watchdog had ended its attempt; the report was kept. */
export interface ExecutionLateResultEvent {
  type: 'execution:late-result';
  at: number;
  executionId: string;
  kind: string;
  attempt: number;
  /** How the runner said the attempt ended. */
  status: EndStatus | undefined;
}

export interface OwnerUnreachableEvent {
  type: 'owner:unreachable';
  at: number;
  owner: string;
  consecutiveUnknown: number;
  reason: string;
}

export interface BreakerOpenedEvent {
  type: 'breaker:opened';
  at: number;
  owner: string;
  reason: string;
  /** The owner's running executions, those this sweep would orphan, and what its registry listed. */
  running: number;
  wouldOrphan: number;
  listed: number;
}

export interface BreakerClosedEvent {
  type: 'breaker:closed';
  at: number;
  owner: string;
  reason: string;
}

export interface SweepCompletedEvent {
  type: 'sweep:completed';
  at: number;
  sweepId: string;
  dryRun: boolean;
  examined: number;
  counts: Record<string, number>;
  durationMs: number;
}

/** A supervised process turned unhealthy, recovered, or was given up on. */
export interface ProcessEvent {
  type: 'process:unhealthy' | 'process:recovered' | 'process:gave-up';
  at: number;
  /** The process's name under `processes:`. */
  name: string;
  /** A process verdict (not an execution's). */
  verdict: ProcessVerdict;
  reason: string;
  evidence: Record<string, JsonValue>;
}

export interface ProbeFailingEvent {
  type: 'probe:failing';
  at: number;
  probe: string;
  url: string;
  reason: string;
  consecutiveFailures: number;
  /** The supervised process the probe is linked to, whose recovery it triggers. */
  process: string | null;
}

export interface ProbeRecoveredEvent {
  type: 'probe:recovered';
  at: number;
  probe: string;
  url: string;
  consecutiveSuccesses: number;
  /** How long it was failing; null when when it began failing is not known. */
  failingForMs: number | null;
}

/** No run of a schedule started within the grace of a due time (or of several: `count`). */
export interface ScheduleMissedEvent {
  type: 'schedule:missed';
  at: number;
  schedule: string;
  dueAt: number;
  graceMs: number;
  /** The last start seen; null when none was ever seen. */
  lastStartAt: number | null;
  /** Due times this miss covers: more than 1 for the summary of a long outage. */
  count: number;
  firstDueAt: number;
  reason: string;
}

/** A run of a missed due time started after all, after its grace. */
export interface ScheduleLateEvent {
  type: 'schedule:late';
  at: number;
  schedule: string;
  dueAt: number;
  startAt: number;
  lateByMs: number;
  reason: string;
}

/** A run reported its own failure (`POST /v1/schedules/NAME/fail`). */
export interface ScheduleFailedEvent {
  type: 'schedule:failed';
  at: number;
  schedule: string;
  reason: string;
}

/** Every event, told apart by `type`. */
export type VigilEvent =
  | ExecutionStuckEvent
  | ExecutionRemediatedEvent
  | ExecutionLateResultEvent
  | ExecutionDeadEvent
  | ExecutionEscalatedEvent
  | OwnerUnreachableEvent
  | BreakerOpenedEvent
  | BreakerClosedEvent
  | SweepCompletedEvent
  | ProcessEvent
  | ProbeFailingEvent
  | ProbeRecoveredEvent
  | ScheduleMissedEvent
  | ScheduleLateEvent
  | ScheduleFailedEvent;

/** The event of one type: `EventOf<'probe:failing'>`. */
export type EventOf<T extends EventType> = Extract<VigilEvent, { type: T }>;

export type Listener = (event: VigilEvent) => void;

/** Where emitters send events. Never throws: a broken listener must not stop a sweep. */
export interface EventSink {
  emit(event: VigilEvent): void;
}

/** Where listeners subscribe; the returned function unsubscribes. */
export interface EventFeed {
  on(listener: Listener): () => void;
}
