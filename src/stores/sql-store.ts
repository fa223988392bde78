import { isDeepStrictEqual } from 'node:util';
import type { Kysely, RawBuilder, Selectable, Transaction } from 'kysely';
import { Migrator, sql } from 'kysely';
import { deadlineOf } from '../core/limits.js';
import { lostBeat } from '../core/lost-beat.js';
import type {
  Execution,
  ExecutionVerdict,
  JsonValue,
  LateResult,
  OpenStatus,
  Status,
} from '../core/types.js';
import type {
  AttemptEnd,
  Beat,
  ExecutionStore,
  Fence,
  HeartbeatResult,
  ListFilter,
  NewExecution,
  OverdueCursor,
  RemediationFilter,
  RemediationRecord,
  ReportOutcome,
  SlotHold,
  SlotHoldRecord,
  SlotReleaseOutcome,
  SlotStore,
  StepRecord,
  Summary,
  SummaryQuery,
  SweepReport,
} from '../ports.js';
import { VigilError } from '../errors.js';
import { migrationProvider } from './migrations.js';
import type {
  AttemptsTable,
  Database,
  ExecutionsTable,
  RemediationsTable,
  SlotHoldsTable,
} from './schema.js';
import { SqlProcessStore } from './process-store.js';
import { SqlOutbox } from './outbox.js';
import { summarize } from './summary.js';

export type Dialect = 'sqlite' | 'postgres';
type Db = Kysely<Database> | Transaction<Database>;
export type ExecutionRow = Selectable<ExecutionsTable>;

/**
 * The store on a SQL database through kysely. One implementation for SQLite and PostgreSQL; the few
 * places where the dialects differ take `dialect`.
 */
export class SqlStore implements ExecutionStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: Dialect,
    readonly description: string,
    /** Runs `fn` in a transaction that holds the write lock from its first statement. */
    private readonly writeTransaction: <T>(fn: (trx: Db) => Promise<T>) => Promise<T>,
    /** A dialect's faster paths for the hot writes (same semantics as the generic ones). */
    private readonly fast: {
      heartbeat?: (beats: Beat[], now: number) => Promise<HeartbeatResult>;
      endAttempt?: (
        fence: Fence,
        end: AttemptEnd,
        now: number,
        audit?: RemediationRecord,
      ) => Promise<boolean>;
      endAttempts?: (
        items: { fence: Fence; end: AttemptEnd; audit?: RemediationRecord | undefined }[],
        now: number,
      ) => Promise<boolean[]>;
    } = {},
    /** Throws `store_unavailable` when the store can no longer keep its writes (see ports). */
    private readonly intact: () => void = () => undefined,
  ) {}

  assertIntact(): void {
    this.intact();
  }

  /** Slots kept in this database, for deployments without Redis. */
  localSlots(): SlotStore {
    return new SqlSlotStore(this.db, this.description);
  }

  async migrate(): Promise<string[]> {
    // Without a schema kysely takes a migration table in *any* schema as its own, so a second
    // Vigil (or a test) in another schema of the same database would skip creating its own.
    const migrationTableSchema =
      this.dialect === 'postgres'
        ? (await sql<{ schema: string }>`select current_schema() as schema`.execute(this.db))
            .rows[0]?.schema
        : undefined;
    const migrator = new Migrator({
      db: this.db,
      provider: migrationProvider,
      migrationTableSchema,
    });
    const { error, results } = await migrator.migrateToLatest();
    if (error)
      throw error instanceof Error ? error : new Error('migration failed', { cause: error });
    return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }

  async create(input: NewExecution, now: number): Promise<Execution> {
    const running = input.status === 'running';
    const base = {
      status: input.status,
      limits: input.limits,
      queuedAt: now,
      startedAt: running ? now : null,
      heartbeatAt: null,
      progressAt: null,
    };
    const row: ExecutionRow = {
      id: input.id,
      kind: input.kind,
      owner: input.owner,
      parent_id: input.parentId,
      status: input.status,
      attempt: 1,
      queued_at: now,
      started_at: base.startedAt,
      heartbeat_at: null,
      progress_at: null,
      ended_at: null,
      deadline_at: deadlineOf(base),
      limit_run: input.limits.run,
      limit_heartbeat: input.limits.heartbeat,
      limit_progress: input.limits.progress,
      limit_queue: input.limits.queue,
      progress: null,
      reason: null,
      verdict: null,
      ended_by: null,
      result: null,
      error: null,
      late_result: null,
      metadata: JSON.stringify(input.metadata),
      termination_failures: 0,
      created_at: now,
    };
    const inserted = await this.db
      .insertInto('executions')
      .values(row)
      .onConflict((oc) => oc.column('id').doNothing())
      .executeTakeFirst();
    if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 0) {
      throw new VigilError('already_exists', `execution ${input.id} already exists`);
    }
    return toExecution(row);
  }

  async get(id: string): Promise<Execution | undefined> {
    const row = await this.db
      .selectFrom('executions')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row && toExecution(row);
  }

  async list(filter: ListFilter): Promise<{ items: Execution[]; nextCursor: string | null }> {
    let query = this.db.selectFrom('executions').selectAll();
    if (filter.status) query = query.where('status', '=', filter.status);
    if (filter.kind) query = query.where('kind', '=', filter.kind);
    if (filter.owner) query = query.where('owner', '=', filter.owner);
    if (filter.parentId) query = query.where('parent_id', '=', filter.parentId);
    if (filter.cursor) {
      const { createdAt, id } = decodeCursor(filter.cursor);
      query = query.where((eb) =>
        eb.or([
          eb('created_at', '<', createdAt),
          eb.and([eb('created_at', '=', createdAt), eb('id', '<', id)]),
        ]),
      );
    }
    const rows = await query
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(filter.limit + 1)
      .execute();
    const items = rows.slice(0, filter.limit).map(toExecution);
    const last = items.at(-1);
    return {
      items,
      nextCursor: rows.length > filter.limit && last ? encodeCursor(last.createdAt, last.id) : null,
    };
  }

  async start(id: string, attempt: number, now: number): Promise<Execution | undefined> {
    return this.writeTransaction(async (trx) => {
      const row = await selectFenced(trx, { id, attempt, status: 'queued' });
      if (!row) return undefined;
      const started = { ...toExecution(row), status: 'running' as const, startedAt: now };
      const deadlineAt = deadlineOf(started);
      const update = await trx
        .updateTable('executions')
        .set({ status: 'running', started_at: now, deadline_at: deadlineAt })
        .where('id', '=', id)
        .where('attempt', '=', attempt)
        .where('status', '=', 'queued')
        .executeTakeFirst();
      // Under READ COMMITTED a concurrent start (or end) may have won after our read.
      if (Number(update.numUpdatedRows) === 0) return undefined;
      return { ...started, deadlineAt };
    });
  }

  async heartbeat(beats: Beat[], now: number): Promise<HeartbeatResult> {
    const result: HeartbeatResult = { ok: [], lost: [] };
    if (beats.length === 0) return result;
    if (this.fast.heartbeat) return this.fast.heartbeat(beats, now);
    if (this.dialect === 'postgres') return this.heartbeatPostgres(beats, now);
    // Rows are locked in id order, so two concurrent batches can never deadlock on PostgreSQL.
    const ordered = [...beats].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const outcomes = new Map<
      Beat,
      { ok: HeartbeatResult['ok'][number] } | { lost: HeartbeatResult['lost'][number] }
    >();
    return this.writeTransaction(async (trx) => {
      for (const beat of ordered) {
        const hasProgress = beat.progress !== undefined;
        const progressFrom = hasProgress
          ? sql<number>`${now}`
          : sql<number>`coalesce(progress_at, started_at)`;
        const updated = await trx
          .updateTable('executions')
          .set({
            heartbeat_at: now,
            ...(hasProgress ? { progress_at: now, progress: JSON.stringify(beat.progress) } : {}),
            deadline_at: this.earliest([
              sql`started_at + limit_run`,
              sql`${now} + limit_heartbeat`,
              sql`${progressFrom} + limit_progress`,
            ]),
          })
          .where('id', '=', beat.id)
          .where('attempt', '=', beat.attempt)
          .where('status', '=', 'running')
          .returning(['id', 'deadline_at'])
          .executeTakeFirst();
        if (updated) {
          outcomes.set(beat, { ok: { id: updated.id, deadlineAt: toNumber(updated.deadline_at) } });
          continue;
        }
        const row = await trx
          .selectFrom('executions')
          .select(['status', 'reason', 'attempt'])
          .where('id', '=', beat.id)
          .executeTakeFirst();
        outcomes.set(beat, { lost: lostBeat(beat, row) });
      }
      // Answered in the order the beats came, whatever order they were written in.
      for (const beat of beats) {
        const outcome = outcomes.get(beat);
        if (outcome === undefined) throw new Error(`heartbeat ${beat.id}: written, but no outcome`);
        if ('ok' in outcome) result.ok.push(outcome.ok);
        else result.lost.push(outcome.lost);
      }
      return result;
    });
  }

  /**
   * On PostgreSQL a batch is one UPDATE for all its beats (plus a row lock taken in id order, so
   * concurrent batches cannot deadlock, and a lookup for the beats that did not land). The
   * deadline is computed from the new values, as deadlineOf() does.
   */
  private async heartbeatPostgres(beats: Beat[], now: number): Promise<HeartbeatResult> {
    const ids = beats.map((b) => b.id);
    const landed = await this.writeTransaction(async (trx) => {
      await sql`SELECT 1 FROM executions WHERE id = ANY(${ids}::text[]) ORDER BY id FOR UPDATE`.execute(
        trx,
      );
      const { rows } = await sql<{ id: string; attempt: number; deadline_at: number | null }>`
        UPDATE executions AS e SET
          heartbeat_at = ${now}::bigint,
          progress_at = CASE WHEN v.has_progress THEN ${now}::bigint ELSE e.progress_at END,
          progress = CASE WHEN v.has_progress THEN v.progress ELSE e.progress END,
          deadline_at = least(
            e.started_at + e.limit_run,
            ${now}::bigint + e.limit_heartbeat,
            CASE WHEN v.has_progress THEN ${now}::bigint ELSE coalesce(e.progress_at, e.started_at) END
              + e.limit_progress)
        FROM unnest(
          ${ids}::text[],
          ${beats.map((b) => b.attempt)}::int[],
          ${beats.map((b) => b.progress !== undefined)}::bool[],
          ${beats.map((b) => (b.progress === undefined ? null : JSON.stringify(b.progress)))}::text[]
        ) AS v(id, attempt, has_progress, progress)
        WHERE e.id = v.id AND e.attempt = v.attempt AND e.status = 'running'
        RETURNING e.id, e.attempt, e.deadline_at`.execute(trx);
      return rows;
    });
    const ok = new Map(landed.map((r) => [`${r.id}#${r.attempt}`, toNumber(r.deadline_at)]));
    const missing = beats.filter((b) => !ok.has(`${b.id}#${b.attempt}`));
    const found =
      missing.length === 0
        ? []
        : await this.db
            .selectFrom('executions')
            .select(['id', 'status', 'reason', 'attempt'])
            .where(
              'id',
              'in',
              missing.map((b) => b.id),
            )
            .execute();
    const rows = new Map(found.map((r) => [r.id, r]));
    const result: HeartbeatResult = { ok: [], lost: [] };
    for (const beat of beats) {
      const key = `${beat.id}#${beat.attempt}`;
      if (ok.has(key)) result.ok.push({ id: beat.id, deadlineAt: ok.get(key) ?? null });
      else result.lost.push(lostBeat(beat, rows.get(beat.id)));
    }
    return result;
  }

  /** The smallest of these non-null values, or null when all are null. */
  private earliest(values: RawBuilder<unknown>[]): RawBuilder<number | null> {
    if (this.dialect === 'postgres') return sql`least(${sql.join(values)})`;
    const never = Number.MAX_SAFE_INTEGER;
    const guarded = values.map((value) => sql`coalesce(${value}, ${never})`);
    return sql`nullif(min(${sql.join(guarded)}), ${never})`;
  }

  async report(fence: Omit<Fence, 'status'>, end: AttemptEnd, now: number): Promise<ReportOutcome> {
    return this.writeTransaction(async (trx) => {
      for (const status of ['running', 'queued'] as const) {
        if (await endFenced(trx, this.dialect, { ...fence, status }, end, now)) {
          const row = await selectById(trx, fence.id);
          if (row) return { kind: 'ended', execution: toExecution(row) };
        }
      }
      const row = await selectById(trx, fence.id);
      if (!row) return { kind: 'not_found' };
      if (fence.attempt > row.attempt)
        return { kind: 'no_such_attempt', execution: toExecution(row) };
      // Every ended attempt has its row in `attempts`, the current one included.
      const attemptRow = await trx
        .selectFrom('attempts')
        .selectAll()
        .where('execution_id', '=', fence.id)
        .where('attempt', '=', fence.attempt)
        .executeTakeFirst();
      if (!attemptRow || attemptRow.ended_by !== 'watchdog') {
        return { kind: 'already_ended', execution: toExecution(row) };
      }
      const late: LateResult = {
        at: now,
        attempt: fence.attempt,
        status: end.status === 'succeeded' ? 'succeeded' : 'failed',
        ...(end.status === 'succeeded'
          ? { result: end.result ?? null }
          : { error: end.error ?? null }),
      };
      // One late report per attempt is kept; a repeat of it is not counted twice, and a different
      // one is answered as not kept.
      const notKept = (keptJson: string | null): ReportOutcome => ({
        kind: 'late',
        execution: toExecution(row),
        kept: false,
        conflict: !sameLateReport(parseJson<LateResult>(keptJson), late),
      });
      if (attemptRow.late_result !== null) return notKept(attemptRow.late_result);
      const lateJson = JSON.stringify(late);
      const kept = await trx
        .updateTable('attempts')
        .set({ late_result: lateJson })
        .where('execution_id', '=', fence.id)
        .where('attempt', '=', fence.attempt)
        .where('late_result', 'is', null)
        .executeTakeFirst();
      // A concurrent late report of the same attempt was kept first.
      if (Number(kept.numUpdatedRows) === 0) {
        const first = await trx
          .selectFrom('attempts')
          .select('late_result')
          .where('execution_id', '=', fence.id)
          .where('attempt', '=', fence.attempt)
          .executeTakeFirst();
        return notKept(first?.late_result ?? null);
      }
      // The execution shows its newest late report, even when it has moved on to a retry.
      await trx
        .updateTable('executions')
        .set({ late_result: lateJson })
        .where('id', '=', fence.id)
        .execute();
      return {
        kind: 'late',
        execution: { ...toExecution(row), lateResult: late },
        kept: true,
        conflict: false,
      };
    });
  }

  async listOverdue(now: number, limit: number, after?: OverdueCursor): Promise<Execution[]> {
    const rows = await this.overdueQuery(now, limit, after).execute();
    return rows.map(toExecution);
  }

  /**
   * The sweep's read: a range scan of the partial `executions_deadline` index, so its cost is the
   * number of overdue rows, not the number of running ones. Public so its plan can be checked.
   */
  overdueQuery(now: number, limit: number, after?: OverdueCursor) {
    let query = this.db
      .selectFrom('executions')
      .selectAll()
      .where('deadline_at', 'is not', null)
      .where('deadline_at', '<', now);
    if (after) {
      // A row-value comparison, so each page starts its index range at the cursor.
      query = query.where((eb) =>
        eb(eb.refTuple('deadline_at', 'id'), '>', eb.tuple(after.deadlineAt, after.id)),
      );
    }
    return query.orderBy('deadline_at').orderBy('id').limit(limit);
  }

  async listRunningOwned(
    owners: readonly string[] | null,
    limit: number,
    after?: { createdAt: number; id: string },
  ): Promise<Execution[]> {
    if (owners !== null && owners.length === 0) return [];
    let query = this.db
      .selectFrom('executions')
      .selectAll()
      .where('status', '=', 'running')
      .where('owner', 'is not', null);
    if (owners !== null) query = query.where('owner', 'in', [...owners]);
    if (after) {
      query = query.where((eb) =>
        eb(eb.refTuple('created_at', 'id'), '>', eb.tuple(after.createdAt, after.id)),
      );
    }
    const rows = await query.orderBy('created_at').orderBy('id').limit(limit).execute();
    return rows.map(toExecution);
  }

  async listChildren(parentId: string): Promise<Execution[]> {
    const rows = await this.db
      .selectFrom('executions')
      .selectAll()
      .where('parent_id', '=', parentId)
      .orderBy('created_at')
      .execute();
    return rows.map(toExecution);
  }

  async withChildren(ids: string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const rows = await this.db
      .selectFrom('executions')
      .select('parent_id')
      .distinct()
      .where('parent_id', 'in', ids)
      .execute();
    return new Set(rows.map((r) => r.parent_id).filter((id): id is string => id !== null));
  }

  async endAttempt(
    fence: Fence,
    end: AttemptEnd,
    now: number,
    audit?: RemediationRecord,
  ): Promise<boolean> {
    if (this.fast.endAttempt) return this.fast.endAttempt(fence, end, now, audit);
    return this.writeTransaction((trx) => endFenced(trx, this.dialect, fence, end, now, audit));
  }

  async endAttempts(
    items: { fence: Fence; end: AttemptEnd; audit?: RemediationRecord | undefined }[],
    now: number,
  ): Promise<boolean[]> {
    if (this.fast.endAttempts) return this.fast.endAttempts(items, now);
    return this.writeTransaction(async (trx) => {
      const wins: Parameters<typeof recordEnds>[1] = [];
      const won: boolean[] = [];
      for (const item of items) {
        const attempt = await compareAndEnd(trx, item.fence, item.end, now);
        won.push(attempt !== null);
        if (attempt) wins.push({ fence: item.fence, attempt, audit: item.audit });
      }
      await recordEnds(trx, wins, now, this.dialect);
      return won;
    });
  }

  async deferDeadline(fence: Fence, until: number): Promise<void> {
    await this.db
      .updateTable('executions')
      .set({ deadline_at: until })
      .where('id', '=', fence.id)
      .where('attempt', '=', fence.attempt)
      .where('status', '=', fence.status)
      .where('deadline_at', '<', until)
      .execute();
  }

  async nextDeadline(): Promise<number | null> {
    const row = await this.db
      .selectFrom('executions')
      .select('deadline_at')
      .where('deadline_at', 'is not', null)
      .orderBy('deadline_at')
      .limit(1)
      .executeTakeFirst();
    return row ? toNumber(row.deadline_at) : null;
  }

  async countOpen(): Promise<{ status: OpenStatus; kind: string; count: number }[]> {
    const rows = await this.db
      .selectFrom('executions')
      .select(['status', 'kind', (eb) => eb.fn.countAll<number | string>().as('count')])
      .where('status', 'in', ['queued', 'running'])
      .groupBy(['status', 'kind'])
      .execute();
    return rows.map((r) => ({
      status: r.status as OpenStatus,
      kind: r.kind,
      count: Number(r.count),
    }));
  }

  async countOpenByOwner(owners: readonly string[]): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    for (let i = 0; i < owners.length; i += 500) {
      const rows = await this.db
        .selectFrom('executions')
        .select(['owner', (eb) => eb.fn.countAll<number | string>().as('count')])
        .where('status', '=', 'running')
        .where('owner', 'in', owners.slice(i, i + 500))
        .groupBy('owner')
        .execute();
      for (const row of rows) if (row.owner !== null) counts.set(row.owner, Number(row.count));
    }
    return counts;
  }

  async ownersOf(ids: string[]): Promise<Map<string, string | null>> {
    const owners = new Map<string, string | null>();
    for (let i = 0; i < ids.length; i += 500) {
      const rows = await this.db
        .selectFrom('executions')
        .select(['id', 'owner'])
        .where('id', 'in', ids.slice(i, i + 500))
        .execute();
      for (const row of rows) owners.set(row.id, row.owner);
    }
    return owners;
  }

  async ping(): Promise<void> {
    await sql`select 1`.execute(this.db);
  }

  async databaseTime(): Promise<number | null> {
    if (this.dialect !== 'postgres') return null;
    // clock_timestamp(), not now(): now() is frozen at the start of the transaction.
    const { rows } = await sql<{
      epoch: string | number;
    }>`SELECT extract(epoch from clock_timestamp()) AS epoch`.execute(this.db);
    const [row] = rows;
    if (row === undefined) throw new Error('SELECT clock_timestamp() answered no row');
    return Math.round(Number(row.epoch) * 1_000);
  }

  async recordTerminationFailure(fence: Fence): Promise<number> {
    const row = await this.db
      .updateTable('executions')
      .set((eb) => ({ termination_failures: eb('termination_failures', '+', 1) }))
      .where('id', '=', fence.id)
      .where('attempt', '=', fence.attempt)
      .where('status', '=', fence.status)
      .returning('termination_failures')
      .executeTakeFirst();
    return row?.termination_failures ?? 0;
  }

  async recordRemediations(records: RemediationRecord[]): Promise<void> {
    // Chunked: SQLite caps the number of bound parameters in one statement.
    for (let i = 0; i < records.length; i += 500) {
      await this.db
        .insertInto('remediations')
        .values(records.slice(i, i + 500).map(remediationRow))
        .execute();
    }
  }

  async listRemediations(filter: RemediationFilter): Promise<RemediationRecord[]> {
    let query = this.db.selectFrom('remediations').selectAll();
    if (filter.since !== undefined) query = query.where('at', '>=', filter.since);
    if (filter.verdict) query = query.where('verdict', '=', filter.verdict);
    if (filter.executionId) query = query.where('execution_id', '=', filter.executionId);
    if (!filter.includeDryRun) query = query.where('dry_run', '=', 0);
    const rows = await query
      .orderBy('at', 'desc')
      .orderBy('id', 'desc')
      .limit(filter.limit)
      .execute();
    return rows.map((r) => ({
      id: r.id,
      sweepId: r.sweep_id,
      at: Number(r.at),
      executionId: r.execution_id,
      attempt: r.attempt,
      kind: r.kind,
      owner: r.owner,
      verdict: r.verdict as ExecutionVerdict,
      action: r.action as RemediationRecord['action'],
      reason: r.reason,
      evidence: JSON.parse(r.evidence) as Record<string, JsonValue>,
      steps: JSON.parse(r.steps) as RemediationRecord['steps'],
      outcome: r.outcome as RemediationRecord['outcome'],
      dryRun: r.dry_run === 1,
    }));
  }

  async saveSweep(report: SweepReport): Promise<void> {
    await this.db
      .insertInto('sweeps')
      .values({
        id: report.id,
        started_at: report.startedAt,
        finished_at: report.finishedAt,
        dry_run: report.dryRun ? 1 : 0,
        report: JSON.stringify(report),
      })
      .execute();
  }

  async latestSweep(): Promise<SweepReport | undefined> {
    const row = await this.db
      .selectFrom('sweeps')
      .select('report')
      .orderBy('started_at', 'desc')
      .orderBy('finished_at', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row && (JSON.parse(row.report) as SweepReport);
  }

  async summary(query: SummaryQuery): Promise<Summary> {
    const summary = await summarize(this.db, query);
    return { ...summary, dueSoon: summary.dueSoon.map(toExecution) };
  }

  async acquireLease(name: string, holder: string, now: number, ttlMs: number): Promise<boolean> {
    const expiresAt = now + ttlMs;
    const row = await this.db
      .insertInto('leases')
      .values({ name, holder, expires_at: expiresAt })
      .onConflict((oc) =>
        oc
          .column('name')
          .doUpdateSet({ holder, expires_at: expiresAt })
          .where((eb) =>
            eb.or([eb('leases.holder', '=', holder), eb('leases.expires_at', '<=', now)]),
          ),
      )
      .returning('holder')
      .executeTakeFirst();
    return row?.holder === holder;
  }

  async releaseLease(name: string, holder: string): Promise<void> {
    await this.db
      .deleteFrom('leases')
      .where('name', '=', name)
      .where('holder', '=', holder)
      .execute();
  }

  async listLeases(prefix: string, now: number): Promise<{ name: string; holder: string }[]> {
    return this.db
      .selectFrom('leases')
      .select(['name', 'holder'])
      .where('name', 'like', `${prefix}%`) // prefixes are Vigil's own constants, free of % and _
      .where('expires_at', '>', now)
      .orderBy('name')
      .execute();
  }

  async recordSlotHold(hold: SlotHold, now: number): Promise<boolean> {
    return this.writeTransaction(async (trx) => {
      // FOR SHARE on PostgreSQL: an end of this attempt waits for this hold to commit (and then
      // marks it due), or this hold waits for the end and sees the attempt closed.
      let open = trx
        .selectFrom('executions')
        .select('id')
        .where('id', '=', hold.executionId)
        .where('attempt', '=', hold.attempt)
        .where('status', 'in', ['queued', 'running']);
      if (this.dialect === 'postgres') open = open.forShare();
      if (!(await open.executeTakeFirst())) return false;
      await trx
        .insertInto('slot_holds')
        .values({
          execution_id: hold.executionId,
          attempt: hold.attempt,
          slot: hold.slot,
          acquired_at: now,
          expires_at: hold.expiresAt,
          release_due_at: null,
          remediation_id: null,
          released_at: null,
          release_outcome: null,
        })
        .onConflict((oc) =>
          oc.columns(['execution_id', 'attempt', 'slot']).doUpdateSet({
            acquired_at: now,
            expires_at: hold.expiresAt,
            release_due_at: null,
            released_at: null,
            release_outcome: null,
          }),
        )
        .execute();
      return true;
    });
  }

  async dropSlotHold(executionId: string, attempt: number, slot: string): Promise<void> {
    await this.db
      .deleteFrom('slot_holds')
      .where('execution_id', '=', executionId)
      .where('attempt', '=', attempt)
      .where('slot', '=', slot)
      .where('released_at', 'is', null)
      .execute();
  }

  async slotHolds(executionId: string): Promise<SlotHoldRecord[]> {
    const rows = await this.db
      .selectFrom('slot_holds')
      .selectAll()
      .where('execution_id', '=', executionId)
      .orderBy('attempt', 'desc')
      .orderBy('slot')
      .execute();
    return rows.map(toSlotHold);
  }

  async markSlotsDue(
    executionId: string,
    attempt: number,
    now: number,
    slot?: string,
  ): Promise<void> {
    let update = this.db
      .updateTable('slot_holds')
      .set({ release_due_at: now })
      .where('execution_id', '=', executionId)
      .where('attempt', '=', attempt)
      .where('released_at', 'is', null)
      .where('release_due_at', 'is', null);
    if (slot !== undefined) update = update.where('slot', '=', slot);
    await update.execute();
  }

  async dueSlotReleases(query: {
    of?: readonly { id: string; attempt: number }[] | undefined;
    dueBefore?: number | undefined;
    limit: number;
  }): Promise<SlotHoldRecord[]> {
    if (query.of?.length === 0) return [];
    let select = this.db
      .selectFrom('slot_holds')
      .selectAll()
      .where('release_due_at', 'is not', null)
      .where('released_at', 'is', null);
    if (query.of) {
      const attempts = new Map(query.of.map((e) => [e.id, e.attempt]));
      select = select.where('execution_id', 'in', [...attempts.keys()]);
      const rows = await select.orderBy('execution_id').orderBy('slot').execute();
      return rows
        .filter((row) => attempts.get(row.execution_id) === row.attempt)
        .slice(0, query.limit)
        .map(toSlotHold);
    }
    if (query.dueBefore !== undefined)
      select = select.where('release_due_at', '<', query.dueBefore);
    const rows = await select
      .orderBy('release_due_at')
      .orderBy('execution_id')
      .limit(query.limit)
      .execute();
    return rows.map(toSlotHold);
  }

  async recordSlotReleases(
    releases: readonly { hold: SlotHoldRecord; outcome: SlotReleaseOutcome }[],
    now: number,
  ): Promise<boolean[]> {
    if (releases.length === 0) return [];
    if (this.dialect === 'postgres') return this.recordSlotReleasesPostgres(releases, now);
    return this.writeTransaction(async (trx) => {
      const recorded: boolean[] = [];
      for (const { hold, outcome } of releases) {
        const marked = await trx
          .updateTable('slot_holds')
          .set({ released_at: now, release_outcome: outcome })
          .where('execution_id', '=', hold.executionId)
          .where('attempt', '=', hold.attempt)
          .where('slot', '=', hold.slot)
          .where('released_at', 'is', null)
          .executeTakeFirst();
        const won = Number(marked.numUpdatedRows) === 1;
        recorded.push(won);
        if (!won || hold.remediationId === null) continue;
        // Appended to the remediation's JSON array in place (no read-modify-write).
        const step = JSON.stringify(releaseStep(hold, outcome, now));
        await trx
          .updateTable('remediations')
          .set({ steps: sql<string>`json_insert(steps, '$[#]', json(${step}))` })
          .where('id', '=', hold.remediationId)
          .execute();
      }
      return recorded;
    });
  }

  /** The same in two statements for the whole batch: mark the holds, append to the audit rows. */
  private async recordSlotReleasesPostgres(
    releases: readonly { hold: SlotHoldRecord; outcome: SlotReleaseOutcome }[],
    now: number,
  ): Promise<boolean[]> {
    return this.writeTransaction(async (trx) => {
      const { rows } = await sql<{ execution_id: string; attempt: number; slot: string }>`
        UPDATE slot_holds AS h SET released_at = ${now}::bigint, release_outcome = v.outcome
        FROM unnest(
          ${releases.map((r) => r.hold.executionId)}::text[],
          ${releases.map((r) => r.hold.attempt)}::int[],
          ${releases.map((r) => r.hold.slot)}::text[],
          ${releases.map((r) => r.outcome)}::text[]
        ) AS v(id, attempt, slot, outcome)
        WHERE h.execution_id = v.id AND h.attempt = v.attempt AND h.slot = v.slot
          AND h.released_at IS NULL
        RETURNING h.execution_id, h.attempt, h.slot`.execute(trx);
      const key = (id: string, attempt: number, slot: string) => `${attempt}:${slot}:${id}`;
      const marked = new Set(rows.map((r) => key(r.execution_id, r.attempt, r.slot)));
      const recorded = releases.map(({ hold }) =>
        marked.has(key(hold.executionId, hold.attempt, hold.slot)),
      );
      // Each remediation's new steps, in release order.
      const steps = new Map<string, StepRecord[]>();
      for (const [i, { hold, outcome }] of releases.entries()) {
        if (!recorded[i] || hold.remediationId === null) continue;
        const list = steps.get(hold.remediationId) ?? [];
        list.push(releaseStep(hold, outcome, now));
        steps.set(hold.remediationId, list);
      }
      if (steps.size > 0) {
        await sql`
          UPDATE remediations AS r SET steps = (r.steps::jsonb || v.steps::jsonb)::text
          FROM unnest(
            ${[...steps.keys()]}::text[],
            ${[...steps.values()].map((list) => JSON.stringify(list))}::text[]
          ) AS v(id, steps)
          WHERE r.id = v.id`.execute(trx);
      }
      return recorded;
    });
  }

  processes(): SqlProcessStore {
    return new SqlProcessStore(this.db);
  }

  outbox(): SqlOutbox {
    return new SqlOutbox(this.db, this.dialect);
  }
}

/** Whether two late reports of one attempt say the same (their arrival time aside). */
function sameLateReport(kept: LateResult | null, report: LateResult): boolean {
  if (kept === null) return false;
  // Through JSON, as the kept one was: an absent key and an undefined one are the same report.
  const said = (late: LateResult) => JSON.parse(JSON.stringify({ ...late, at: 0 })) as unknown;
  return isDeepStrictEqual(said(kept), said(report));
}

/** A release as a step of the remediation that caused it. */
function releaseStep(hold: SlotHoldRecord, outcome: SlotReleaseOutcome, now: number): StepRecord {
  return {
    step: 'release',
    outcome: outcome === 'released' ? 'ok' : 'skipped',
    ms: Math.max(0, now - (hold.releaseDueAt ?? now)),
    detail: {
      released: `released ${hold.slot}`,
      not_held: `${hold.slot} is held by another holder (attempt ${hold.attempt}'s hold expired and it was taken): left alone`,
      already_free: `${hold.slot} was already free (attempt ${hold.attempt}'s hold expired, or an earlier try released it and did not live to record it)`,
    }[outcome],
  };
}

function toSlotHold(row: Selectable<SlotHoldsTable>): SlotHoldRecord {
  return {
    executionId: row.execution_id,
    attempt: row.attempt,
    slot: row.slot,
    acquiredAt: Number(row.acquired_at),
    expiresAt: toNumber(row.expires_at),
    releaseDueAt: toNumber(row.release_due_at),
    remediationId: row.remediation_id,
    releasedAt: toNumber(row.released_at),
    releaseOutcome: row.release_outcome as SlotReleaseOutcome | null,
  };
}

/**
 * Written in the transaction that ends an attempt: its slots are now due for release, linked to the
 * remediation that ended it (if the watchdog did).
 */
export const slotsDueSql =
  'UPDATE slot_holds SET release_due_at = ?, remediation_id = ? WHERE execution_id = ? AND attempt = ? AND released_at IS NULL AND release_due_at IS NULL';

export { lostBeat } from '../core/lost-beat.js';

async function selectById(db: Db, id: string): Promise<ExecutionRow | undefined> {
  return db.selectFrom('executions').selectAll().where('id', '=', id).executeTakeFirst();
}

async function selectFenced(db: Db, fence: Fence): Promise<ExecutionRow | undefined> {
  return db
    .selectFrom('executions')
    .selectAll()
    .where('id', '=', fence.id)
    .where('attempt', '=', fence.attempt)
    .where('status', '=', fence.status)
    .executeTakeFirst();
}

/**
 * The compare-and-set at the heart of every terminal write: the update applies only while the row
 * is still this attempt in this status, so a runner's completion and a watchdog's remediation (or
 * two replicas' remediations) can never both win. Run inside a write transaction.
 */
/** A remediation record as its row. */
export function remediationRow(r: RemediationRecord): Selectable<RemediationsTable> {
  return {
    id: r.id,
    sweep_id: r.sweepId,
    at: r.at,
    execution_id: r.executionId,
    attempt: r.attempt,
    kind: r.kind,
    owner: r.owner,
    verdict: r.verdict,
    action: r.action,
    reason: r.reason,
    evidence: JSON.stringify(r.evidence),
    steps: JSON.stringify(r.steps),
    outcome: r.outcome,
    dry_run: r.dryRun ? 1 : 0,
  };
}

/** Whether the row still has the deadline the fence was taken on (when the fence names one). */
export function deadlineHolds(row: Pick<ExecutionRow, 'deadline_at'>, fence: Fence): boolean {
  if (fence.deadlineAt === undefined) return true;
  const current = row.deadline_at === null ? null : Number(row.deadline_at);
  return current === fence.deadlineAt;
}

/**
 * The writes that end an attempt, computed once for every path that applies them: the row update
 * (with a retry, the execution goes back to `queued` as the next attempt) and the attempt's record.
 */
export function attemptEndWrites(
  row: Pick<ExecutionRow, 'queued_at' | 'started_at' | 'limit_queue'>,
  fence: Fence,
  end: AttemptEnd,
  now: number,
): { update: Partial<ExecutionRow>; attempt: Selectable<AttemptsTable> } {
  const json = (value: JsonValue | undefined) =>
    value === undefined ? null : JSON.stringify(value);
  const ended = {
    reason: end.reason,
    verdict: end.verdict,
    ended_by: end.endedBy,
    result: json(end.result),
    error: json(end.error),
  };
  const update: Partial<ExecutionRow> = end.retry
    ? {
        ...ended,
        status: 'queued',
        attempt: end.retry.attempt,
        queued_at: end.retry.queuedAt,
        started_at: null,
        heartbeat_at: null,
        progress_at: null,
        progress: null,
        ended_at: null,
        termination_failures: 0,
        deadline_at: row.limit_queue === null ? null : end.retry.queuedAt + Number(row.limit_queue),
      }
    : { ...ended, status: end.status, ended_at: now, deadline_at: null };
  return {
    update,
    attempt: {
      execution_id: fence.id,
      attempt: fence.attempt,
      status: end.status,
      queued_at: row.queued_at,
      started_at: row.started_at,
      ended_at: now,
      ...ended,
      late_result: null,
    },
  };
}

async function endFenced(
  db: Db,
  dialect: Dialect,
  fence: Fence,
  end: AttemptEnd,
  now: number,
  audit?: RemediationRecord,
): Promise<boolean> {
  const won = await compareAndEnd(db, fence, end, now);
  if (won) await recordEnds(db, [{ fence, attempt: won, audit }], now, dialect);
  return won !== null;
}

/** The compare-and-set itself: the attempt's record when this write won, else null. */
async function compareAndEnd(
  db: Db,
  fence: Fence,
  end: AttemptEnd,
  now: number,
): Promise<Selectable<AttemptsTable> | null> {
  const row = await selectFenced(db, fence);
  if (!row || !deadlineHolds(row, fence)) return null;
  const writes = attemptEndWrites(row, fence, end, now);
  let update = db
    .updateTable('executions')
    .set(writes.update)
    .where('id', '=', fence.id)
    .where('attempt', '=', fence.attempt)
    .where('status', '=', fence.status);
  if (fence.deadlineAt !== undefined) {
    update =
      fence.deadlineAt === null
        ? update.where('deadline_at', 'is', null)
        : update.where('deadline_at', '=', fence.deadlineAt);
  }
  const result = await update.executeTakeFirst();
  return Number(result.numUpdatedRows) === 0 ? null : writes.attempt;
}

/**
 * What follows the ends that won, in the same transaction, a few statements for all of them: the
 * attempts' records, the remediations' audit rows, and their slots marked due for release.
 */
async function recordEnds(
  db: Db,
  wins: {
    fence: Fence;
    attempt: Selectable<AttemptsTable>;
    audit?: RemediationRecord | undefined;
  }[],
  now: number,
  dialect: Dialect,
): Promise<void> {
  if (wins.length === 0) return;
  await db
    .insertInto('attempts')
    .values(wins.map((w) => w.attempt))
    .execute();
  const audits = wins.flatMap((w) => (w.audit ? [remediationRow(w.audit)] : []));
  if (audits.length > 0) await db.insertInto('remediations').values(audits).execute();
  if (dialect === 'postgres') {
    await sql`
      UPDATE slot_holds AS h SET release_due_at = ${now}::bigint, remediation_id = v.rid
      FROM unnest(
        ${wins.map((w) => w.fence.id)}::text[],
        ${wins.map((w) => w.fence.attempt)}::int[],
        ${wins.map((w) => w.audit?.id ?? null)}::text[]
      ) AS v(id, attempt, rid)
      WHERE h.execution_id = v.id AND h.attempt = v.attempt
        AND h.released_at IS NULL AND h.release_due_at IS NULL`.execute(db);
    return;
  }
  for (const w of wins) {
    await db
      .updateTable('slot_holds')
      .set({ release_due_at: now, remediation_id: w.audit?.id ?? null })
      .where('execution_id', '=', w.fence.id)
      .where('attempt', '=', w.fence.attempt)
      .where('released_at', 'is', null)
      .where('release_due_at', 'is', null)
      .execute();
  }
}

const toNumber = (value: number | string | null): number | null =>
  value === null ? null : Number(value);

function parseJson<T>(text: string | null): T | null {
  return text === null ? null : (JSON.parse(text) as T);
}

export function toExecution(row: ExecutionRow): Execution {
  return {
    id: row.id,
    kind: row.kind,
    owner: row.owner,
    parentId: row.parent_id,
    status: row.status as Status,
    attempt: row.attempt,
    queuedAt: toNumber(row.queued_at),
    startedAt: toNumber(row.started_at),
    heartbeatAt: toNumber(row.heartbeat_at),
    progressAt: toNumber(row.progress_at),
    endedAt: toNumber(row.ended_at),
    deadlineAt: toNumber(row.deadline_at),
    limits: {
      run: toNumber(row.limit_run),
      heartbeat: toNumber(row.limit_heartbeat),
      progress: toNumber(row.limit_progress),
      queue: toNumber(row.limit_queue),
    },
    progress: parseJson<string | number>(row.progress),
    reason: row.reason,
    verdict: row.verdict as ExecutionVerdict | null,
    endedBy: row.ended_by as Execution['endedBy'],
    result: parseJson<JsonValue>(row.result),
    error: parseJson<JsonValue>(row.error),
    lateResult: parseJson<LateResult>(row.late_result),
    metadata: JSON.parse(row.metadata) as Record<string, JsonValue>,
    createdAt: Number(row.created_at),
  };
}

function encodeCursor(createdAt: number, id: string): string {
  return Buffer.from(JSON.stringify([createdAt, id])).toString('base64url');
}

function decodeCursor(cursor: string): { createdAt: number; id: string } {
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as unknown[];
    if (typeof createdAt === 'number' && typeof id === 'string') return { createdAt, id };
  } catch {
    // fall through to the error below
  }
  throw new VigilError(
    'bad_input',
    `cursor: expected a cursor from a previous page, got ${JSON.stringify(cursor)}`,
  );
}

/**
 * Slots in Vigil's own database, for deployments without Redis: one row per held slot. Taking a
 * free or expired slot is one upsert; the release is a conditional delete on the holder.
 */
export class SqlSlotStore implements SlotStore {
  readonly description: string;

  constructor(
    private readonly db: Kysely<Database>,
    storeDescription: string,
  ) {
    this.description = `${storeDescription} (table slots)`;
  }

  async acquire(
    slot: string,
    holder: string,
    ttlMs: number | null,
    now: number,
  ): Promise<
    { acquired: true; expiresAt: number | null } | { acquired: false; holder: string | null }
  > {
    const expiresAt = ttlMs === null ? null : now + ttlMs;
    const row = await this.db
      .insertInto('slots')
      .values({ name: slot, holder, expires_at: expiresAt })
      .onConflict((oc) =>
        oc
          .column('name')
          .doUpdateSet({ holder, expires_at: expiresAt })
          .where((eb) =>
            eb.or([eb('slots.holder', '=', holder), eb('slots.expires_at', '<=', now)]),
          ),
      )
      .returning('holder')
      .executeTakeFirst();
    if (row?.holder === holder) return { acquired: true, expiresAt };
    return { acquired: false, holder: await this.holderOf(slot, now) };
  }

  async release(slot: string, holder: string, now: number): Promise<SlotReleaseOutcome> {
    const result = await this.db
      .deleteFrom('slots')
      .where('name', '=', slot)
      .where('holder', '=', holder)
      .executeTakeFirst();
    if (Number(result.numDeletedRows) === 1) return 'released';
    return (await this.holderOf(slot, now)) === null ? 'already_free' : 'not_held';
  }

  async holderOf(slot: string, now: number): Promise<string | null> {
    const row = await this.db
      .selectFrom('slots')
      .select(['holder', 'expires_at'])
      .where('name', '=', slot)
      .executeTakeFirst();
    if (!row) return null;
    return row.expires_at !== null && Number(row.expires_at) <= now ? null : row.holder;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
