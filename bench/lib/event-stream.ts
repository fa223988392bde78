/** `GET /v1/events` read by a benchmark: every event with the time it arrived. */
import type { IncomingMessage } from 'node:http';
import { get } from 'node:http';

export interface SseEvent {
  type: string;
  receivedAt: number;
  data: Record<string, unknown>;
}

export interface EventStream {
  events: SseEvent[];
  /** When the server closed the stream; null while it is open. */
  closedAt: number | null;
  close: () => void;
}

/** Subscribes to `${url}/v1/events` and records every event with the time it arrived. */
export async function subscribe(url: string): Promise<EventStream> {
  const response = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = get(`${url}/v1/events`, { headers: { accept: 'text/event-stream' } }, resolve);
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('no answer from /v1/events')));
  });
  if (response.statusCode !== 200) throw new Error(`/v1/events answered ${response.statusCode}`);
  response.socket.setTimeout(0);
  const stream: EventStream = { events: [], closedAt: null, close: () => response.destroy() };
  let buffered = '';
  response.setEncoding('utf8');
  response.on('data', (chunk: string) => {
    const receivedAt = Date.now();
    buffered += chunk;
    let end: number;
    while ((end = buffered.indexOf('\n\n')) >= 0) {
      const block = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      let type = 'message';
      let data = '';
      for (const line of block.split('\n')) {
        if (line.startsWith('event: ')) type = line.slice(7);
        else if (line.startsWith('data: ')) data += line.slice(6);
      }
      if (data)
        stream.events.push({ type, receivedAt, data: JSON.parse(data) as Record<string, unknown> });
    }
  });
  response.on('error', () => undefined);
  response.on('close', () => {
    stream.closedAt ??= Date.now();
  });
  return stream;
}
