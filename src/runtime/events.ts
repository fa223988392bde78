import type { EventFeed, EventSink, Listener, VigilEvent } from '../ports/events.js';

export { EVENT_TYPES } from '../ports/events.js';
export type { EventType, Listener, VigilEvent } from '../ports/events.js';

/**
 * Delivers events to listeners in-process. A listener that throws is reported through `onError`
 * and never stops the emitter or the other listeners: one broken consumer must not block a sweep.
 */
export class EventBus implements EventSink, EventFeed {
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
