import { deadlineOf } from '../../core/limits.js';
import type { Execution } from '../../core/types.js';
import { VigilError } from '../../errors.js';
import type { NewExecution } from '../../ports/ledger-store.js';
import type { SqlContext } from './context.js';
import type { ExecutionRow } from './rows.js';
import { toExecution } from './rows.js';

/** Registers an execution (queued, or running from `now`); `already_exists` if its id is taken. */
export async function create(
  ctx: SqlContext,
  input: NewExecution,
  now: number,
): Promise<Execution> {
  const running = input.status === 'running';
  const startedAt = running ? now : null;
  const row: ExecutionRow = {
    id: input.id,
    kind: input.kind,
    owner: input.owner,
    parent_id: input.parentId,
    status: input.status,
    attempt: 1,
    queued_at: now,
    started_at: startedAt,
    heartbeat_at: null,
    progress_at: null,
    ended_at: null,
    deadline_at: deadlineOf({
      status: input.status,
      limits: input.limits,
      queuedAt: now,
      startedAt,
      heartbeatAt: null,
      progressAt: null,
    }),
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
  const inserted = await ctx.db
    .insertInto('executions')
    .values(row)
    .onConflict((oc) => oc.column('id').doNothing())
    .executeTakeFirst();
  if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 0) {
    throw new VigilError('already_exists', `execution ${input.id} already exists`);
  }
  return toExecution(row);
}
