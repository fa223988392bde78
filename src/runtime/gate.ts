/**
 * Reads what holds Vigil back: the pause and the silences that have not ended, from the store
 * (those created through the API or the CLI), beside the windows of vigil.yaml. Read once per
 * sweep, per process check and per batch of notifications, so a `vigil pause` or a new window is
 * honoured by every replica and by `vigil sweep` from their next pass on.
 */
import type { GateView, Silence } from '../core/silence.js';
import type { SilenceStore } from '../ports/silence-store.js';

/** More active silences than anyone keeps; past it the oldest are not seen (see docs/silences.md). */
const MAX_ACTIVE = 1_000;

export type GateReader = (now: number) => Promise<GateView>;

/** A reader of the gate on a store, with the windows configured in vigil.yaml. */
export function gateReader(
  store: { silences(): SilenceStore },
  configured: readonly Silence[] = [],
): GateReader {
  const silences = store.silences();
  return async (now) => {
    const [paused, stored] = await Promise.all([
      silences.pauseState(),
      silences.listSilences({ activeAt: now, limit: MAX_ACTIVE }),
    ]);
    return { paused, silences: [...configured, ...stored] };
  };
}
