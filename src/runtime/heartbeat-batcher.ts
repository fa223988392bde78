import type { Beat, HeartbeatResult } from '../ports/ledger-store.js';

export type BeatOutcome =
  | { kind: 'ok'; deadlineAt: number | null }
  | { kind: 'lost'; lost: HeartbeatResult['lost'][number] };

interface Waiting {
  beat: Beat;
  resolve: (outcome: BeatOutcome) => void;
  reject: (error: unknown) => void;
}

/** The beats of one id and attempt waiting for the next write: one row, written once. */
interface Pending {
  beat: Beat;
  waiting: Waiting[];
}

export interface HeartbeatBatcherOptions {
  /** Most ids in one write. */
  maxBatch?: number;
  /** Most writes in flight at once (each on its own ids). */
  maxInFlight?: number;
}

/**
 * Group commit for heartbeats, single or batched: beats that arrive while the store is busy (or in
 * the same turn of the event loop) are written together, one row per id. Beats of the same id and
 * attempt in one window are merged: the row is written once and every caller gets its answer, as
 * if they had landed one after the other at the same instant (the progress is the last one sent).
 * A beat of another attempt of a waiting id waits for the next write, so each id's beats keep
 * their order. Writes in flight never share an id, so they never wait on each other's rows. When
 * idle a beat waits for no one: the batch is flushed on the next tick.
 */
export class HeartbeatBatcher {
  /** Beats for the next write, by id. */
  private pending = new Map<string, Pending>();
  /** Beats of ids a write in flight holds: they join `pending` when it ends. */
  private held = new Map<string, Pending>();
  /** Beats that could not join `pending` (another attempt of an id in it), in arrival order. */
  private deferred: Waiting[] = [];
  private readonly busy = new Set<string>();
  private inFlight = 0;
  private scheduled = false;
  private readonly maxBatch: number;
  private readonly maxInFlight: number;

  constructor(
    private readonly write: (beats: Beat[]) => Promise<HeartbeatResult>,
    options: HeartbeatBatcherOptions = {},
  ) {
    this.maxBatch = options.maxBatch ?? 2_000;
    this.maxInFlight = options.maxInFlight ?? 4;
  }

  beat(beat: Beat): Promise<BeatOutcome> {
    return new Promise<BeatOutcome>((resolve, reject) => this.add({ beat, resolve, reject }));
  }

  /** Many beats, answered together in their order, as the store answers a batch. */
  beatMany(beats: Beat[]): Promise<HeartbeatResult> {
    if (beats.length === 0) return Promise.resolve({ ok: [], lost: [] });
    return new Promise<HeartbeatResult>((resolve, reject) => {
      const fail: (error: unknown) => void = reject;
      const outcomes = new Array<BeatOutcome>(beats.length);
      let left = beats.length;
      let failed = false;
      beats.forEach((beat, i) => {
        this.add({
          beat,
          resolve: (outcome) => {
            outcomes[i] = outcome;
            if (--left === 0 && !failed) resolve(collect(beats, outcomes));
          },
          reject: (error) => {
            if (failed) return;
            failed = true;
            fail(error);
          },
        });
      });
    });
  }

  private add(waiting: Waiting): void {
    this.place(waiting);
    if (this.pending.size >= this.maxBatch) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.flush();
      });
    }
  }

  /** Into the next write (merged with the same id and attempt), or after it. */
  private place(waiting: Waiting): void {
    const { id, attempt, progress } = waiting.beat;
    const queue = this.busy.has(id) ? this.held : this.pending;
    const same = queue.get(id);
    const behind = this.isDeferred(id);
    if (same && same.beat.attempt === attempt && !behind) {
      if (progress !== undefined) same.beat = { ...same.beat, progress };
      same.waiting.push(waiting);
    } else if (same || behind) {
      this.deferred.push(waiting);
    } else {
      queue.set(id, { beat: waiting.beat, waiting: [waiting] });
    }
  }

  private isDeferred(id: string): boolean {
    return this.deferred.length > 0 && this.deferred.some((w) => w.beat.id === id);
  }

  /** Starts writes while there is room in flight and beats waiting for one. */
  private flush(): void {
    while (this.inFlight < this.maxInFlight && this.pending.size > 0) {
      const batch: Pending[] = [];
      for (const [id, entry] of this.pending) {
        batch.push(entry);
        this.pending.delete(id);
        if (batch.length >= this.maxBatch) break;
      }
      this.start(batch);
      this.undefer();
    }
  }

  /** Deferred beats whose id has left `pending` take their place in it, in order. */
  private undefer(): void {
    if (this.deferred.length === 0) return;
    const deferred = this.deferred;
    this.deferred = [];
    for (const waiting of deferred) this.place(waiting);
  }

  private start(batch: Pending[]): void {
    this.inFlight++;
    for (const entry of batch) this.busy.add(entry.beat.id);
    const done = () => {
      this.inFlight--;
      for (const { beat } of batch) {
        this.busy.delete(beat.id);
        const next = this.held.get(beat.id);
        if (next) {
          this.held.delete(beat.id);
          this.pending.set(beat.id, next);
        }
      }
      // Whatever arrived meanwhile goes now, in one write.
      if (this.pending.size > 0 || this.deferred.length > 0) this.flush();
    };
    // A write that throws instead of rejecting fails its batch all the same.
    const written = Promise.resolve().then(() => this.write(batch.map((entry) => entry.beat)));
    written.then(
      (result) => {
        done();
        const outcomes = new Map<string, BeatOutcome>();
        for (const ok of result.ok) outcomes.set(ok.id, { kind: 'ok', deadlineAt: ok.deadlineAt });
        for (const lost of result.lost) outcomes.set(lost.id, { kind: 'lost', lost });
        for (const entry of batch) {
          const outcome = outcomes.get(entry.beat.id) ?? {
            kind: 'lost',
            lost: { id: entry.beat.id, status: null, reason: 'no answer' },
          };
          for (const w of entry.waiting) w.resolve(outcome);
        }
      },
      (error: unknown) => {
        done();
        for (const entry of batch) for (const w of entry.waiting) w.reject(error);
      },
    );
  }
}

function collect(beats: Beat[], outcomes: BeatOutcome[]): HeartbeatResult {
  const result: HeartbeatResult = { ok: [], lost: [] };
  beats.forEach((beat, i) => {
    const outcome = outcomes[i];
    if (outcome?.kind === 'ok') result.ok.push({ id: beat.id, deadlineAt: outcome.deadlineAt });
    else if (outcome) result.lost.push(outcome.lost);
  });
  return result;
}
