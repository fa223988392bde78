import { z } from 'zod';
import { VigilError } from '../errors.js';
import { durationSchema } from '../schemas.js';
import type { Clock, ExecutionStore, SlotHoldRecord, SlotStore } from '../ports.js';
import { slotHolder } from '../ports.js';
import { attemptSchema, parseInput } from './ledger.js';

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

export interface SlotReleaseCounts {
  released: number;
  notHeld: number;
  failed: number;
}

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
  private pending: Promise<SlotReleaseCounts> | null = null;

  constructor(
    private readonly store: ExecutionStore,
    readonly slotStore: SlotStore,
    private readonly clock: Clock,
  ) {}

  async acquire(
    executionId: string,
    input: unknown,
  ): Promise<{ slot: string; attempt: number; expiresAt: number | null }> {
    const { attempt, slot, ttl } = parseInput(acquireSlotSchema, input);
    const execution = await this.store.get(executionId);
    if (!execution) throw new VigilError('not_found', `no execution ${executionId}`);
    const now = this.clock.now();
    const expiresAt = ttl === undefined ? null : now + ttl;
    if (!(await this.store.recordSlotHold({ executionId, attempt, slot, expiresAt }, now))) {
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
      await this.store.dropSlotHold(executionId, attempt, slot).catch(() => undefined);
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
      await this.releaseDue();
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
    return { released: (await this.releaseOne({ ...hold, releaseDueAt: now })) === 'released' };
  }

  list(executionId: string): Promise<SlotHoldRecord[]> {
    return this.store.slotHolds(executionId);
  }

  /**
   * Releases every hold whose attempt has ended (by its runner, an operator or the watchdog),
   * including releases a crashed replica left half-done. One pass at a time per process; a slot
   * store that fails stops the pass (the rest stay due for the next one).
   */
  releaseDue(pageSize = 500): Promise<SlotReleaseCounts> {
    this.pending ??= this.releaseAll(pageSize).finally(() => {
      this.pending = null;
    });
    return this.pending;
  }

  private async releaseAll(pageSize: number): Promise<SlotReleaseCounts> {
    const counts: SlotReleaseCounts = { released: 0, notHeld: 0, failed: 0 };
    for (;;) {
      const due = await this.store.dueSlotReleases(pageSize);
      for (const hold of due) {
        try {
          const outcome = await this.releaseOne(hold);
          if (outcome === 'released') counts.released++;
          else if (outcome === 'not_held') counts.notHeld++;
        } catch {
          counts.failed++;
          return counts;
        }
      }
      if (due.length < pageSize) return counts;
    }
  }

  private async releaseOne(hold: SlotHoldRecord): Promise<'released' | 'not_held' | 'raced'> {
    const released = await this.slotStore.release(
      hold.slot,
      slotHolder(hold.executionId, hold.attempt),
      this.clock.now(),
    );
    const outcome = released ? 'released' : 'not_held';
    const recorded = await this.store.recordSlotRelease(hold, outcome, this.clock.now());
    return recorded ? outcome : 'raced';
  }
}

/** The execution and attempt behind a holder token, when it is one of Vigil's. */
function parseHolder(holder: string | null): { executionId: string; attempt: number } | null {
  const match = holder?.match(/^(\d+):(.+)$/);
  return match ? { executionId: match[2]!, attempt: Number(match[1]) } : null;
}
