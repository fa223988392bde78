/**
 * The clock the runtime reads. The other ports live in `src/ports/`, one file per port.
 */

export interface Clock {
  /** Milliseconds since the epoch: the wall clock, which NTP or a resumed VM may step. */
  now(): number;
  /**
   * Milliseconds from an arbitrary origin that never jumps (`performance.now()`): what really
   * elapsed. Compared with the wall clock, it tells a clock step from time passing.
   */
  monotonic(): number;
}
