import { authHeaders } from './api.js';
import type { StreamEvent } from './sse.js';
import { parseBlock } from './sse.js';

export type { StreamEvent };

export type ConnectionState = 'connecting' | 'live' | 'reconnecting' | 'unauthorized';

/**
 * Follows `GET /v1/events`. EventSource cannot send an Authorization header, so this reads the
 * stream with fetch and parses the `event:` / `data:` blocks itself. A dropped stream is
 * reopened with backoff (1 s doubling to 15 s); `onOpen` fires on every (re)connection so the
 * page can reload what it may have missed meanwhile.
 */
export function followEvents(handlers: {
  onEvent: (event: StreamEvent) => void;
  onState: (state: ConnectionState) => void;
  onOpen: () => void;
}): () => void {
  const controller = new AbortController();
  let delay = 1_000;
  const run = async () => {
    for (let first = true; !controller.signal.aborted; first = false) {
      handlers.onState(first ? 'connecting' : 'reconnecting');
      try {
        const response = await fetch('v1/events', {
          headers: { accept: 'text/event-stream', ...authHeaders() },
          signal: controller.signal,
          cache: 'no-store',
        });
        if (response.status === 401 || response.status === 403) {
          handlers.onState('unauthorized');
          return;
        }
        if (!response.ok || !response.body) throw new Error(`event stream: ${response.status}`);
        handlers.onState('live');
        handlers.onOpen();
        delay = 1_000;
        await read(response.body, handlers.onEvent);
      } catch {
        if (controller.signal.aborted) return;
      }
      await new Promise((resolve) => window.setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 15_000);
    }
  };
  void run();
  return () => controller.abort();
}

async function read(
  body: ReadableStream<Uint8Array>,
  onEvent: (event: StreamEvent) => void,
): Promise<void> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true }).replaceAll('\r\n', '\n');
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const parsed = parseBlock(block);
      if (parsed) onEvent(parsed);
    }
  }
}
