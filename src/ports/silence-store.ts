import type { PauseState, Silence } from '../core/silence.js';

export interface SilenceFilter {
  /** Only those still active or yet to start at this moment (ended ones are left out). */
  activeAt?: number | undefined;
  limit: number;
}

/**
 * Silences, maintenance windows and the pause, kept in the store so that those created through
 * the API or the CLI survive restarts and are seen by every replica and by `vigil sweep`.
 */
export interface SilenceStore {
  createSilence(silence: Silence): Promise<void>;
  getSilence(id: string): Promise<Silence | undefined>;
  /** Newest first. */
  listSilences(filter: SilenceFilter): Promise<Silence[]>;
  /**
   * Ends a silence at `now` when it has not ended yet; returns it as it is afterwards, or
   * undefined when there is no such silence.
   */
  expireSilence(id: string, now: number): Promise<Silence | undefined>;
  /** The pause, or null while Vigil acts. */
  pauseState(): Promise<PauseState | null>;
  /** Pauses; when already paused, the first pause stays. Returns the pause in force. */
  pause(state: PauseState): Promise<PauseState>;
  /** Resumes; returns the pause it ended, or null when Vigil was not paused. */
  resume(): Promise<PauseState | null>;
}
