/**
 * The slot releases of one sweep: started beside detection rather than awaited by it, so a slot
 * store that does not answer never delays an end; awaited once at the end of the sweep.
 */
import type { Applied } from '../ports/source.js';
import type { Tally } from './pipeline.js';
import type { SlotReleaseCounts, Slots } from './slots.js';

export class SlotReleases {
  /** Attempts this sweep ended whose slots it has not released yet. */
  private readonly ended: { id: string; attempt: number }[] = [];
  /** Releases started and not yet awaited (see `done`). */
  private readonly releases: Promise<void>[] = [];
  private error: Error | null = null;

  constructor(
    private readonly slots: Slots | undefined,
    private readonly tally: Tally,
  ) {}

  /** Notes the attempts a page ended (not those a dry run would end). */
  noteEnded(applied: readonly Applied[]): void {
    for (const a of applied) {
      if (a.outcome === 'remediated')
        this.ended.push({ id: a.subject.executionId, attempt: a.subject.attempt });
    }
  }

  /** Starts releasing the slots of the attempts ended since the last call. */
  releaseEnded(): void {
    const ended = this.ended.splice(0, this.ended.length);
    if (this.slots && ended.length > 0) this.track(this.slots.releaseFor(ended));
  }

  /** Finishes releases a previous sweep (perhaps on a replica that died) left half-done. */
  releaseStale(): void {
    if (this.slots) this.track(this.slots.releaseStale());
  }

  /** Waits for the releases started (each slot command has a timeout); a failed one stays due. */
  async done(): Promise<void> {
    await Promise.all(this.releases.splice(0, this.releases.length));
    if (this.error !== null) throw this.error;
  }

  private track(releasing: Promise<SlotReleaseCounts>): void {
    this.releases.push(
      releasing.then(
        (counts) => {
          this.tally.bump('slots_released', counts.released);
          this.tally.bump('slots_not_held', counts.notHeld);
          this.tally.bump('slots_already_free', counts.alreadyFree);
          this.tally.bump('slot_release_failed', counts.failed);
        },
        (error: unknown) => {
          this.error ??= error instanceof Error ? error : new Error(String(error));
        },
      ),
    );
  }
}
