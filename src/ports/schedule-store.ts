/** Where the judging of `schedules:` stands, the verdicts it recorded, and the pings it got. */
import type { MissedEvidence, ScheduleState } from '../core/schedule.js';
import type { ScheduleCounts } from '../core/schedule-times.js';

/** A schedule as stored. */
export interface ScheduleRecord {
  name: string;
  /** The latest due time judged; null before the first. */
  lastJudgedDueAt: number | null;
  state: ScheduleState;
  /** The latest start seen (of a counted execution, or a ping). */
  lastStartAt: number | null;
  updatedAt: number;
}

/** A missed due time (or a summarising miss), turned `late` when its run started after all. */
export interface ScheduleVerdictRecord {
  schedule: string;
  dueAt: number;
  verdict: 'missed' | 'late';
  evidence: MissedEvidence;
  judgedAt: number;
  lateStartAt: number | null;
}

export type PingKind = 'start' | 'success' | 'fail';

/** A judgement of a schedule's due times, to apply only if nobody applied one since. */
export interface ScheduleJudgement {
  lastJudgedDueAt: number;
  state: 'ok' | 'missed';
  lastStartAt: number | null;
  missed: readonly MissedEvidence[];
}

/** A schedule defined through the API, as stored. */
export interface ScheduleDefinition {
  name: string;
  /** The keys of vigil.yaml as given (cron, tz, every, grace, kind, owner, table). */
  definition: Record<string, unknown>;
  /** When its current timing was set: due times whose grace had passed by then are not judged. */
  since: number;
  updatedAt: number;
}

export interface ScheduleStore {
  /** Every schedule's record, by name. */
  listSchedules(): Promise<ScheduleRecord[]>;
  /**
   * Creates a schedule's record, judged up to `lastJudgedDueAt`, unless it already has one;
   * answers the record as it is now. With `definedSince` (a schedule defined through the API):
   * only while its stored definition still has that `since`, else null — a pass that read it
   * before it was retimed or deleted must not bring back where its old timing stood.
   */
  ensureSchedule(
    name: string,
    lastJudgedDueAt: number | null,
    now: number,
    definedSince?: number,
  ): Promise<ScheduleRecord | null>;
  /**
   * When runs of a schedule started within [from, to]: ledger executions selected by `counts`
   * (kind and/or owner; none when both are null) and the schedule's pings (each kind of ping
   * says a run began, a start ping most precisely).
   */
  startsBetween(name: string, counts: ScheduleCounts, from: number, to: number): Promise<number[]>;
  /**
   * Applies a judgement and records its misses in one transaction, only if the schedule's last
   * judged due time is still `expected` (compare-and-set): of two replicas judging the same due
   * times, one applies and the other gets false, so each due time is judged once. With
   * `definedSince`, also false once the stored definition no longer has that `since`.
   */
  recordJudgement(
    name: string,
    expected: number | null,
    judgement: ScheduleJudgement,
    now: number,
    definedSince?: number,
  ): Promise<boolean>;
  /** Turns a missed verdict late (compare-and-set on `missed`); false when it was not missed. */
  recordLate(name: string, dueAt: number, startAt: number, now: number): Promise<boolean>;
  recordPing(name: string, kind: PingKind, at: number): Promise<void>;
  /** Verdicts, newest due time first; of one schedule, or of all when `name` is null. */
  listVerdicts(name: string | null, limit: number): Promise<ScheduleVerdictRecord[]>;
  /** The schedules defined through the API, by name. */
  listDefinitions(): Promise<ScheduleDefinition[]>;
  /**
   * Creates or replaces a schedule defined through the API. When it is new or its `timing` (a
   * normalised key) changed, its judging starts again: `since` becomes `now` and where judging
   * stood is forgotten (its verdicts are kept). Answers whether it was created, and its `since`.
   */
  putDefinition(
    name: string,
    definition: Record<string, unknown>,
    timing: string,
    now: number,
  ): Promise<{ created: boolean; since: number }>;
  /** Removes one (and where its judging stood; its verdicts stay); false when there was none. */
  deleteDefinition(name: string): Promise<boolean>;
}
