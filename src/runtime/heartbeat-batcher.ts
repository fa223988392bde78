import type { Beat, HeartbeatResult } from '../ports/ledger-store.js';

export type BeatOutcome =
  | { kind: 'ok'; deadlineAt: number | null }
  | { kind: 'lost'; lost: HeartbeatResult['lost'][number] };

interface Waiting {
  beat: Beat;
  resolve: (outcome: BeatOutcome) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit for single heartbeats: beats that arrive in the same turn of the event loop are
 * written in one transaction (one statement per beat, or one statement for all where the store
 * can). Under load this turns thousands of tiny transactions into a few large ones; when idle a
 * beat waits for no one, since the batch is flushed on the next tick.
 */
export class HeartbeatBatcher {
  private batch: Waiting[] = [];
  private ids = new Set<string>();
  private scheduled = false;

  constructor(
    private readonly write: (beats: Beat[]) => Promise<HeartbeatResult>,
    private readonly maxBatch = 1_000,
  ) {}

  beat(beat: Beat): Promise<BeatOutcome> {
    return new Promise<BeatOutcome>((resolve, reject) => {
      // The store answers by id, so one id appears at most once per batch.
      if (this.ids.has(beat.id) || this.batch.length >= this.maxBatch) this.flush();
      this.batch.push({ beat, resolve, reject });
      this.ids.add(beat.id);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.batch;
    if (batch.length === 0) return;
    this.batch = [];
    this.ids = new Set();
    this.write(batch.map((w) => w.beat)).then(
      (result) => {
        const outcomes = new Map<string, BeatOutcome>();
        for (const ok of result.ok) outcomes.set(ok.id, { kind: 'ok', deadlineAt: ok.deadlineAt });
        for (const lost of result.lost) outcomes.set(lost.id, { kind: 'lost', lost });
        for (const w of batch) {
          w.resolve(
            outcomes.get(w.beat.id) ?? {
              kind: 'lost',
              lost: { id: w.beat.id, status: null, reason: 'no answer' },
            },
          );
        }
      },
      (error: unknown) => {
        for (const w of batch) w.reject(error);
      },
    );
  }
}
