import { randomUUID } from 'node:crypto';
import { formatDuration } from '../core/duration.js';
import { toIso } from '../core/iso-time.js';
import type { ScheduleState } from '../core/schedule.js';
import { judgeDueTimes, lateStart, windowOf } from '../core/schedule.js';
import type { ScheduleSpec } from '../core/schedule-times.js';
import { dueBetween } from '../core/schedule-times.js';
import type { Clock, Timers } from '../ports/clock.js';
import type { EventSink } from '../ports/events.js';
import type {
  ScheduleRecord,
  ScheduleStore,
  ScheduleVerdictRecord,
} from '../ports/schedule-store.js';
import { realTimers } from '../shared/timers.js';

/**
 * Due times judged per schedule per pass. A longer backlog (a job due every second, Vigil down
 * for a day) is judged over several passes, one right after the other; one pass never holds
 * tens of thousands of due times in memory.
 */
const DUE_PER_PASS = 10_000;

/** The lease name that makes judging single-flight across replicas. */
const LEASE = 'schedules';
/** Longer than any pass: a replica that died mid-pass blocks judging for at most this long. */
const LEASE_MS = 60_000;

/** When the rows of a mapped table (of an owner, when given) started within [from, to]. */
export type TableStartsReader = (
  table: string,
  owner: string | null,
  from: number,
  to: number,
) => Promise<number[]>;

export interface ScheduleWatchOptions {
  /** The schedules of vigil.yaml. */
  specs: readonly ScheduleSpec[];
  /**
   * The schedules defined through the API, read again at each pass (so every replica follows
   * changes); one named like a schedule of vigil.yaml is left out: the file decides.
   */
  apiSpecs?: (() => Promise<ScheduleSpec[]>) | undefined;
  /** Reads mapped tables' rows for the schedules that count them (`table:`). */
  tableStarts?: TableStartsReader | undefined;
  store: ScheduleStore;
  clock: Clock;
  events: EventSink;
  /** Takes or renews the judging lease; false while another replica holds it. */
  lease: (name: string, holder: string, now: number, ttlMs: number) => Promise<boolean>;
  /** The longest wait between passes: how soon a late run is noticed. */
  maxWaitMs: number;
  onError?: ((error: unknown, where: string) => void) | undefined;
}

/** One schedule as `GET /v1/schedules` and `vigil schedules` show it. */
export interface ScheduleStatus {
  spec: ScheduleSpec;
  state: ScheduleState;
  lastJudgedDueAt: number | null;
  lastStartAt: number | null;
  /** The next due time after now. */
  nextDueAt: number | null;
  /** The latest missed (or late) due times, newest first (RECENT_VERDICTS at most). */
  recent: ScheduleVerdictRecord[];
}

/** Verdicts shown with each schedule: enough to see a pattern, few enough to read at a glance. */
const RECENT_VERDICTS = 5;

/**
 * Judges each schedule's due times once their grace has passed: a due time with no counted start
 * in its window is `missed` (recorded, announced as `schedule:missed`); a run that starts after
 * that turns the miss `late` (`schedule:late`), never a second miss. Each due time is judged
 * once: the store moves a schedule's last judged due time by compare-and-set, and a lease keeps
 * replicas from judging at the same time. Due times that passed while Vigil was down are judged
 * when it is back (src/core/schedule.ts says how many are announced one by one).
 */
export class ScheduleWatch {
  private running: Promise<void> | null = null;
  private handle: unknown = null;
  private stopped = true;
  /** A schedule changed while the loop was in a pass: judge again as soon as it ends. */
  private again = false;
  private timers: Timers = realTimers;
  private readonly holder = `schedules:${randomUUID()}`;
  /** The schedules as last read: vigil.yaml's, then the API's. */
  private current: readonly ScheduleSpec[];

  constructor(private readonly options: ScheduleWatchOptions) {
    this.current = options.specs;
  }

  /** The schedules as last read (see `load` for the current ones). */
  get specs(): readonly ScheduleSpec[] {
    return this.current;
  }

  /** Reads the schedules again: vigil.yaml's, then those defined through the API. */
  async load(): Promise<readonly ScheduleSpec[]> {
    const { specs, apiSpecs } = this.options;
    if (!apiSpecs) return specs;
    const configured = new Set(specs.map((spec) => spec.name));
    const api = (await apiSpecs()).filter((spec) => !configured.has(spec.name));
    this.current = [...specs, ...api];
    return this.current;
  }

  /** Judges now, then whenever the next due time's grace ends (at most `maxWaitMs` apart). */
  start(timers: Timers = realTimers): void {
    if (this.options.specs.length === 0 && !this.options.apiSpecs) return;
    this.timers = timers;
    this.stopped = false;
    this.wake(0);
  }

  stop(): void {
    this.stopped = true;
    if (this.handle !== null) this.timers.clearTimeout(this.handle);
    this.handle = null;
  }

  /**
   * A schedule was defined, replaced or deleted here: judge now and wait from its timing, rather
   * than from the timings known before.
   */
  changed(): void {
    if (this.stopped) return;
    this.again = true;
    // No timer set: the loop is in a pass, and judges again as soon as it ends (one loop only).
    if (this.handle === null) return;
    this.timers.clearTimeout(this.handle);
    this.wake(0);
  }

  /** Waits for a pass under way. */
  async settle(): Promise<void> {
    await this.running;
  }

  /** Judges every schedule now (joins a pass under way). Never throws; errors go to `onError`. */
  pass(): Promise<void> {
    this.running ??= this.judgeAll().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  /** Each schedule with its stored state and next due time. */
  async status(): Promise<ScheduleStatus[]> {
    const specs = await this.load();
    return scheduleStatuses(specs, this.options.store, this.options.clock.now());
  }

  private wake(delayMs: number): void {
    if (this.stopped) return;
    this.handle = this.timers.setTimeout(() => {
      this.handle = null;
      if (this.stopped) return;
      // A pass already under way (a ping's, a sweep's) read the schedules before the change.
      if (this.running === null) this.again = false;
      void this.pass().then(() => {
        const again = this.again;
        this.again = false;
        this.wake(again ? 0 : this.nextWaitMs());
      });
    }, delayMs);
  }

  /** Until the earliest next judgement, at least 100 ms (no busy loop), at most `maxWaitMs`. */
  private nextWaitMs(): number {
    const now = this.options.clock.now();
    let wait = this.options.maxWaitMs;
    for (const spec of this.current) {
      const next = spec.times.next(now - spec.graceMs);
      if (next !== null) wait = Math.min(wait, next + spec.graceMs - now);
    }
    return Math.max(100, wait);
  }

  private async judgeAll(): Promise<void> {
    const { store, clock } = this.options;
    let specs: readonly ScheduleSpec[];
    try {
      specs = await this.load();
      // Nothing to judge (no schedule in vigil.yaml, none defined yet): no lease taken either.
      if (specs.length === 0) return;
      if (!(await this.options.lease(LEASE, this.holder, clock.now(), LEASE_MS))) return;
    } catch (error) {
      this.options.onError?.(error, 'schedules');
      return;
    }
    for (const spec of specs) {
      try {
        const now = clock.now();
        // Judged from its next due time on: after Vigil first saw it, or (one defined through
        // the API, which a replica may first read later) after it was defined.
        const seen = Math.min(spec.since ?? now, now);
        const record = await store.ensureSchedule(
          spec.name,
          spec.times.previous(seen - spec.graceMs),
          seen,
          definedSince(spec),
        );
        // Retimed or deleted through the API since this pass read it: the next pass judges it.
        if (record === null) continue;
        const judged = await this.judge(spec, record, now);
        await this.checkLate(spec, judged, now);
      } catch (error) {
        this.options.onError?.(error, `schedule ${spec.name}`);
      }
    }
  }

  /** Judges the due times whose grace has passed; answers the record as it then stands. */
  private async judge(
    spec: ScheduleSpec,
    record: ScheduleRecord,
    now: number,
  ): Promise<ScheduleRecord> {
    // A schedule first seen before any due time (a cron with none in the past) starts from then.
    let after = Math.max(
      record.lastJudgedDueAt ?? record.updatedAt - spec.graceMs,
      firstAfter(spec),
    );
    let current = record;
    for (;;) {
      const { due, complete } = dueBetween(spec.times, after, now - spec.graceMs, DUE_PER_PASS);
      const first = due[0];
      const last = due.at(-1);
      if (first === undefined || last === undefined) return current;
      const starts = await this.startsBetween(
        spec,
        windowOf(first, spec.graceMs).from,
        windowOf(last, spec.graceMs).to,
      );
      const judgement = judgeDueTimes(due, starts, spec.graceMs, current.lastStartAt);
      if (judgement === null) return current;
      const applied = await this.options.store.recordJudgement(
        spec.name,
        current.lastJudgedDueAt,
        judgement,
        now,
        definedSince(spec),
      );
      if (!applied) return current; // another replica judged them: they are its to announce
      for (const miss of judgement.missed) {
        this.options.events.emit({
          type: 'schedule:missed',
          at: now,
          schedule: spec.name,
          ...miss,
          reason: missedReason(miss.count, miss.firstDueAt, miss.dueAt, spec.graceMs),
        });
      }
      current = {
        ...current,
        lastJudgedDueAt: judgement.lastJudgedDueAt,
        state: judgement.state,
        lastStartAt: judgement.lastStartAt,
      };
      if (complete) return current;
      after = last;
    }
  }

  /** A schedule whose last due time was missed: did its run start after all? */
  private async checkLate(spec: ScheduleSpec, record: ScheduleRecord, now: number): Promise<void> {
    const dueAt = record.lastJudgedDueAt;
    if (record.state !== 'missed' || dueAt === null) return;
    const from = windowOf(dueAt, spec.graceMs).to + 1;
    if (from > now) return;
    const starts = await this.startsBetween(spec, from, now);
    const startAt = lateStart(dueAt, spec.times.next(dueAt), spec.graceMs, starts);
    if (startAt === null) return;
    if (!(await this.options.store.recordLate(spec.name, dueAt, startAt, now))) return;
    this.options.events.emit({
      type: 'schedule:late',
      at: now,
      schedule: spec.name,
      dueAt,
      startAt,
      lateByMs: startAt - dueAt,
      reason: `the run due at ${toIso(dueAt)} started ${formatDuration(startAt - dueAt)} late`,
    });
  }

  private async startsBetween(spec: ScheduleSpec, from: number, to: number): Promise<number[]> {
    const starts = await this.options.store.startsBetween(spec.name, spec.counts, from, to);
    const { table, owner } = spec.counts;
    if (table === null) return starts;
    if (!this.options.tableStarts) throw new Error(`schedule ${spec.name}: no reader for tables`);
    return [...starts, ...(await this.options.tableStarts(table, owner, from, to))];
  }
}

/**
 * The due time an API schedule's judging starts after: its due times are judged from the first
 * whose grace had not passed when its timing was set (the rule for a schedule seen for the first
 * time). A pass that read the schedule before it was retimed cannot judge earlier due times.
 */
function firstAfter(spec: ScheduleSpec): number {
  if (spec.since === null) return -Infinity;
  return spec.times.previous(spec.since - spec.graceMs) ?? spec.since - spec.graceMs;
}

/** Each schedule with its stored state and its next due time after `now`. */
export async function scheduleStatuses(
  specs: readonly ScheduleSpec[],
  store: ScheduleStore,
  now: number,
): Promise<ScheduleStatus[]> {
  const records = new Map((await store.listSchedules()).map((record) => [record.name, record]));
  const recent = await Promise.all(
    specs.map((spec) => store.listVerdicts(spec.name, RECENT_VERDICTS)),
  );
  return specs.map((spec, i) => {
    const record = records.get(spec.name);
    return {
      recent: recent[i] ?? [],
      spec,
      state: record?.state ?? 'waiting',
      lastJudgedDueAt: record?.lastJudgedDueAt ?? null,
      lastStartAt: record?.lastStartAt ?? null,
      nextDueAt: spec.times.next(now),
    };
  });
}

function missedReason(count: number, firstDueAt: number, dueAt: number, graceMs: number): string {
  const grace = formatDuration(graceMs);
  if (count === 1) return `no run started within ${grace} of ${toIso(dueAt)}`;
  return `no run started within ${grace} of any of ${count} due times from ${toIso(firstDueAt)} to ${toIso(dueAt)}`;
}

/** A schedule defined through the API is judged only while its stored definition is the one read. */
function definedSince(spec: ScheduleSpec): number | undefined {
  return spec.source === 'api' && spec.since !== null ? spec.since : undefined;
}
