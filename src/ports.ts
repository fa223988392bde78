/** The clock the runtime reads. The other ports live in `src/ports/`, one file per port. */
export type { Clock } from './ports/clock.js';
