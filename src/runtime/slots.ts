import * as z from 'zod';
import { VigilError } from '../errors.js';
import { durationSchema } from '../schemas.js';
import type { Clock } from '../ports.js';
import type { ReadStore } from '../ports/read-store.js';
import type {
  SlotHoldRecord,
  SlotHoldStore,
  SlotReleaseOutcome,
  SlotStore,
} from '../ports/slot-store.js';
import { slotHolder } from '../ports/slot-store.js';
import { attemptSchema, parseInput } from './ledger.js';
import { zip } from '../core/zip.js';

export const slotNameSchema = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9._:@/-]+$/, 'expected letters, digits and . _ : @ / - only');

export const acquireSlotSchema = z.strictObject({
  attempt: attemptSchema,
  slot: slotNameSchema,
  /** Without a TTL the slot is held until the attempt ends (or is released). */
  ttl: durationSchema.optional(),
});

/**
 * A release due for this long was cut short (a crash, a failed slot store): retry it. The release
 * that follows each end runs within the same sweep, its slot commands bounded by a 1 s timeout, so
 * after 10 s it is not still under way. Shorter would race that release and send each command
 * twice (harmless, as releases compare the holder, but noisy in the counts); longer keeps a slot
 * held by an attempt that already ended, so new work waits for capacity nobody uses: the worse
 * mistake, so the wait stays seconds, not minutes.
 */
export const STALE_RELEASE_MS = 10_000;

/**
 * Releases per call of a slot store's `releaseMany`: one Redis script call blocks Redis while it
 * runs (about a millisecond per thousand keys), so a long page is cut up.
 */
const RELEASE_CHUNK = 1_000;

export interface SlotReleaseCounts {
  released: number;
  /** Held by another holder: left alone. */
  notHeld: number;
  /** Nobody held it any more (expired, or released by an earlier try that was not recorded). */
  alreadyFree: number;
  failed: number;
}

const noReleases = (): SlotReleaseCounts => ({
  released: 0,
  notHeld: 0,
  alreadyFree: 0,
  failed: 0,
});

/**
 * Capacity slots and queue entries held by executions. The store records which attempt holds
 * which slot; the slot store (Redis, or a table in Vigil's database) holds the slot itself.
 *
 * Acquire: record the hold (only while the attempt is open), then take the slot; a slot that is
 * taken undoes the record. Release: ending an attempt marks its holds due in the same transaction;
 * `releaseDue` then releases each with a compare-and-release on the attempt's own token, so a
 * slot that expired and was taken by a newer execution stays with its new holder.
 */
export class Slots {
  constructor(
    private readonly store: SlotHoldStore & Pick<ReadStore, 'get'>,
    readonly slotStore: SlotStore,
    private readonly clock: Clock,
  ) {}

  async acquire(
    executionId: string,
    input: unknown,
  ): Promise<{ slot: string; attempt: number; expiresAt: number | null }> {
    const { attempt, slot, ttl } = parseInput(acquireSlotSchema, input);
    const now = this.clock.now();
    const expiresAt = ttl === undefined ? null : now + ttl;
    if (!(await this.store.recordSlotHold({ executionId, attempt, slot, expiresAt }, now))) {
      // Read only to say why: the execution is missing, or not open at this attempt.
      const execution = await this.store.get(executionId);
      if (!execution) throw new VigilError('not_found', `no execution ${executionId}`);
      throw new VigilError(
        'lost_ownership',
        `execution ${executionId} is not open at attempt ${attempt}: it cannot take a slot`,
        { status: execution.status, reason: execution.reason ?? `attempt is ${execution.attempt}` },
      );
    }
    let taken;
    try {
      taken = await this.slotStore.acquire(
        slot,
        slotHolder(executionId, attempt),
        ttl ?? null,
        now,
      );
    } catch (error) {
      // A command that timed out may still land when the slot store answers again: the hold is
      // left due for release, so a later sweep gives back whatever it took (or finds it free).
      await this.store.markSlotsDue(executionId, attempt, now, slot).catch(() => undefined);
      throw error;
    }
    if (!taken.acquired) {
      await this.store.dropSlotHold(executionId, attempt, slot);
      throw new VigilError('slot_taken', `slot ${slot} is held by another execution`, {
        holder: parseHolder(taken.holder),
      });
    }
    // The attempt may have ended between recording the hold and taking the slot: its end marked
    // the hold due, and this releases it at once instead of at the next sweep.
    const current = await this.store.get(executionId);
    if (
      !current ||
      current.attempt !== attempt ||
      !['queued', 'running'].includes(current.status)
    ) {
      await this.releaseFor([{ id: executionId, attempt }]);
    }
    return { slot, attempt, expiresAt: taken.expiresAt };
  }

  /** A runner gives a slot back before its attempt ends. */
  async release(
    executionId: string,
    slot: string,
    attempt: number,
  ): Promise<{ released: boolean }> {
    parseInput(z.strictObject({ slot: slotNameSchema, attempt: attemptSchema }), { slot, attempt });
    const hold = (await this.store.slotHolds(executionId)).find(
      (h) => h.attempt === attempt && h.slot === slot && h.releasedAt === null,
    );
    if (!hold) return { released: false };
    const now = this.clock.now();
    await this.store.markSlotsDue(executionId, attempt, now, slot);
    const counts = await this.releaseAll([{ ...hold, releaseDueAt: now }]);
    if (counts.failed > 0) {
      // Due, so a later sweep finishes it; the runner is told it did not happen yet.
      throw new VigilError(
        'store_unavailable',
        `slot store unavailable: ${slot} could not be released now; it will be released by a later sweep`,
        { store: 'slots' },
      );
    }
    return { released: counts.released === 1 };
  }

  list(executionId: string): Promise<SlotHoldRecord[]> {
    return this.store.slotHolds(executionId);
  }

  /** Releases the slots of these ended attempts: a sweep's page, or a runner's own report. */
  async releaseFor(
    attempts: readonly { id: string; attempt: number }[],
  ): Promise<SlotReleaseCounts> {
    if (attempts.length === 0) return noReleases();
    const holds = await this.store.dueSlotReleases({ of: attempts, limit: 10_000 });
    return this.releaseAll(holds);
  }

  /**
   * Finishes releases left behind: by a replica that died between ending an attempt and releasing
   * its slots, or by a slot store that failed. Only holds due for longer than `staleMs`, so it
   * does not race the release that follows each end.
   */
  async releaseStale(staleMs = STALE_RELEASE_MS, pageSize = 500): Promise<SlotReleaseCounts> {
    const total = noReleases();
    const dueBefore = this.clock.now() - staleMs;
    for (;;) {
      const holds = await this.store.dueSlotReleases({ dueBefore, limit: pageSize });
      const counts = await this.releaseAll(holds);
      total.released += counts.released;
      total.notHeld += counts.notHeld;
      total.alreadyFree += counts.alreadyFree;
      total.failed += counts.failed;
      if (holds.length < pageSize || counts.failed > 0) return total;
    }
  }

  /**
   * Compare-and-releases every hold at once (in one script call per RELEASE_CHUNK holds where the
   * slot store can, else one command each, which Redis pipelines), then records the outcomes in
   * one transaction. A release that fails stays due, for `releaseStale`.
   */
  private async releaseAll(holds: readonly SlotHoldRecord[]): Promise<SlotReleaseCounts> {
    const counts = noReleases();
    const now = this.clock.now();
    const done: { hold: SlotHoldRecord; outcome: SlotReleaseOutcome }[] = [];
    const releaseMany = this.slotStore.releaseMany?.bind(this.slotStore);
    if (releaseMany) {
      const chunks: (readonly SlotHoldRecord[])[] = [];
      for (let i = 0; i < holds.length; i += RELEASE_CHUNK)
        chunks.push(holds.slice(i, i + RELEASE_CHUNK));
      const settled = await Promise.allSettled(
        chunks.map((chunk) =>
          releaseMany(
            chunk.map((hold) => ({
              slot: hold.slot,
              holder: slotHolder(hold.executionId, hold.attempt),
            })),
            now,
          ),
        ),
      );
      for (const [chunk, result] of zip(chunks, settled)) {
        // A chunk that failed (or answered for a different number of holds) stays due.
        if (result.status === 'rejected' || result.value.length !== chunk.length)
          counts.failed += chunk.length;
        else for (const [hold, outcome] of zip(chunk, result.value)) done.push({ hold, outcome });
      }
    } else {
      const settled = await Promise.allSettled(
        holds.map(async (hold) => ({
          hold,
          outcome: await this.slotStore.release(
            hold.slot,
            slotHolder(hold.executionId, hold.attempt),
            now,
          ),
        })),
      );
      for (const result of settled) {
        if (result.status === 'rejected') counts.failed++;
        else done.push(result.value);
      }
    }
    const recorded = await this.store.recordSlotReleases(done, this.clock.now());
    for (const [i, { outcome }] of done.entries()) {
      if (!recorded[i]) continue;
      if (outcome === 'released') counts.released++;
      else if (outcome === 'already_free') counts.alreadyFree++;
      else counts.notHeld++;
    }
    return counts;
  }
}

/** The execution and attempt behind a holder token, when it is one of Vigil's. */
function parseHolder(holder: string | null): { executionId: string; attempt: number } | null {
  const [, attempt, executionId] = holder?.match(/^(\d+):(.+)$/) ?? [];
  return attempt !== undefined && executionId !== undefined
    ? { executionId, attempt: Number(attempt) }
    : null;
}
