/** Time as the runtime and the adapters see it: a clock to read and timers to set, both fakeable. */

export interface Clock {
  /** Milliseconds since the epoch: the wall clock, which NTP or a resumed VM may step. */
  now(): number;
  /**
   * Milliseconds from an arbitrary origin that never jumps (`performance.now()`): what really
   * elapsed. Compared with the wall clock, it tells a clock step from time passing.
   */
  monotonic(): number;
}

/** One-shot timers (`setTimeout`); tests pass fake ones to step time by hand. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}
