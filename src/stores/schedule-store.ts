import type { ScheduleCounts } from '../core/schedule-times.js';
import type {
  PingKind,
  ScheduleDefinition,
  ScheduleJudgement,
  ScheduleRecord,
  ScheduleStore,
  ScheduleVerdictRecord,
} from '../ports/schedule-store.js';
import type { SqlContext } from './ops/context.js';
import {
  ensureSchedule,
  listSchedules,
  listVerdicts,
  recordJudgement,
  recordLate,
  recordPing,
  startsBetween,
} from './ops/schedules.js';
import { deleteDefinition, listDefinitions, putDefinition } from './ops/schedule-definitions.js';

/** The schedule tables of the SQL store (ops/schedules.ts), SQLite or PostgreSQL. */
export class SqlScheduleStore implements ScheduleStore {
  constructor(private readonly ctx: SqlContext) {}

  listSchedules(): Promise<ScheduleRecord[]> {
    return listSchedules(this.ctx);
  }

  ensureSchedule(name: string, lastJudgedDueAt: number | null, now: number, definedSince?: number) {
    return ensureSchedule(this.ctx, name, lastJudgedDueAt, now, definedSince);
  }

  startsBetween(name: string, counts: ScheduleCounts, from: number, to: number) {
    return startsBetween(this.ctx, name, counts, from, to);
  }

  recordJudgement(
    name: string,
    expected: number | null,
    judgement: ScheduleJudgement,
    now: number,
    definedSince?: number,
  ) {
    return recordJudgement(this.ctx, name, expected, judgement, now, definedSince);
  }

  recordLate(name: string, dueAt: number, startAt: number, now: number) {
    return recordLate(this.ctx, name, dueAt, startAt, now);
  }

  recordPing(name: string, kind: PingKind, at: number): Promise<void> {
    return recordPing(this.ctx, name, kind, at);
  }

  listVerdicts(name: string | null, limit: number): Promise<ScheduleVerdictRecord[]> {
    return listVerdicts(this.ctx, name, limit);
  }

  listDefinitions(): Promise<ScheduleDefinition[]> {
    return listDefinitions(this.ctx);
  }

  putDefinition(name: string, definition: Record<string, unknown>, timing: string, now: number) {
    return putDefinition(this.ctx, name, definition, timing, now);
  }

  deleteDefinition(name: string): Promise<boolean> {
    return deleteDefinition(this.ctx, name);
  }
}
