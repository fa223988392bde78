import type { Kysely, Selectable } from 'kysely';
import type { ProcessVerdict } from '../core/process-health.js';
import type { JsonValue } from '../core/types.js';
import type { ProcessState, ProcessStore, RecoveryRecord } from '../ports/process-store.js';
import type { ProcessesTable } from './process-schema.js';
import type { Database } from './schema.js';

const toNumber = (value: number | string | null): number | null =>
  value === null ? null : Number(value);

/** The supervisor's state on SQLite or PostgreSQL, through the store's kysely instance. */
export class SqlProcessStore implements ProcessStore {
  constructor(private readonly db: Kysely<Database>) {}

  async getProcess(name: string): Promise<ProcessState | undefined> {
    const row = await this.db
      .selectFrom('processes')
      .selectAll()
      .where('name', '=', name)
      .executeTakeFirst();
    return row && toState(row);
  }

  async listProcesses(): Promise<ProcessState[]> {
    const rows = await this.db.selectFrom('processes').selectAll().orderBy('name').execute();
    return rows.map(toState);
  }

  async saveProcess(state: ProcessState): Promise<void> {
    const row = toRow(state);
    const update: Partial<typeof row> = { ...row };
    delete update.name;
    await this.db
      .insertInto('processes')
      .values(row)
      .onConflict((oc) => oc.column('name').doUpdateSet(update))
      .execute();
  }

  async recordRecovery(record: RecoveryRecord): Promise<void> {
    await this.db
      .insertInto('process_recoveries')
      .values({
        id: record.id,
        name: record.name,
        at: record.at,
        finished_at: record.finishedAt,
        trigger: record.trigger,
        reason: record.reason,
        evidence: JSON.stringify(record.evidence),
        steps: JSON.stringify(record.steps),
        outcome: record.outcome,
      })
      .execute();
  }

  async listRecoveries(filter: {
    name?: string | undefined;
    limit: number;
  }): Promise<RecoveryRecord[]> {
    let query = this.db.selectFrom('process_recoveries').selectAll();
    if (filter.name !== undefined) query = query.where('name', '=', filter.name);
    const rows = await query
      .orderBy('at', 'desc')
      .orderBy('id', 'desc')
      .limit(filter.limit)
      .execute();
    return rows.map((r) => ({
      id: r.id,
      name: r.name,
      at: Number(r.at),
      finishedAt: Number(r.finished_at),
      trigger: r.trigger,
      reason: r.reason,
      evidence: JSON.parse(r.evidence) as Record<string, JsonValue>,
      steps: JSON.parse(r.steps) as RecoveryRecord['steps'],
      outcome: r.outcome as RecoveryRecord['outcome'],
    }));
  }
}

function toState(row: Selectable<ProcessesTable>): ProcessState {
  return {
    name: row.name,
    enabled: Number(row.enabled) === 1,
    pid: toNumber(row.pid),
    pidStartedAt: toNumber(row.pid_started_at),
    startedAt: toNumber(row.started_at),
    verdict: row.verdict as ProcessVerdict | null,
    reason: row.reason,
    evidence: JSON.parse(row.evidence) as Record<string, JsonValue>,
    consecutiveUnhealthy: Number(row.consecutive_unhealthy),
    unhealthySince: toNumber(row.unhealthy_since),
    restarts: Number(row.restarts),
    streak: Number(row.streak),
    lastRestartAt: toNumber(row.last_restart_at),
    nextRestartAt: toNumber(row.next_restart_at),
    gaveUp: Number(row.gave_up) === 1,
    lastCheckAt: toNumber(row.last_check_at),
  };
}

function toRow(state: ProcessState): Selectable<ProcessesTable> {
  return {
    name: state.name,
    enabled: state.enabled ? 1 : 0,
    pid: state.pid,
    pid_started_at: state.pidStartedAt,
    started_at: state.startedAt,
    verdict: state.verdict,
    reason: state.reason,
    evidence: JSON.stringify(state.evidence),
    consecutive_unhealthy: state.consecutiveUnhealthy,
    unhealthy_since: state.unhealthySince,
    restarts: state.restarts,
    streak: state.streak,
    last_restart_at: state.lastRestartAt,
    next_restart_at: state.nextRestartAt,
    gave_up: state.gaveUp ? 1 : 0,
    last_check_at: state.lastCheckAt,
  };
}
