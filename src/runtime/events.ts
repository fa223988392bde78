import type { ExecutionVerdict } from '../core/types.js';

/** Event names, the same on the SSE stream, in logs and in metrics labels. */
export const EVENT_TYPES = [
  'execution:stuck',
  'execution:remediated',
  'execution:late-result',
  'execution:dead',
  'execution:escalated',
  'owner:unreachable',
  'breaker:opened',
  'breaker:closed',
  'sweep:completed',
  'process:unhealthy',
  'process:recovered',
  'process:gave-up',
  'probe:failing',
  'probe:recovered',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export interface VigilEvent {
  type: EventType;
  /** Milliseconds since the epoch. */
  at: number;
  executionId?: string;
  attempt?: number;
  verdict?: ExecutionVerdict;
  reason?: string;
  [key: string]: unknown;
}

export type Listener = (event: VigilEvent) => void;

/**
 * Delivers events to listeners in-process. A listener that throws is reported through `onError`
 * and never stops the emitter or the other listeners: one broken consumer must not block a sweep.
 */
export class EventBus {
  private readonly listeners = new Set<Listener>();

  constructor(private readonly onError: (error: unknown) => void = () => undefined) {}

  on(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(event: VigilEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        this.onError(error);
      }
    }
  }
}
