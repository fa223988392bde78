import type { ServerResponse } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { EventFeed, VigilEvent } from '../ports/events.js';
import { iso } from '../present.js';
import type { EventFilter } from './event-scope.js';

/**
 * Bytes a slow client may have waiting before it is dropped rather than slowing anyone down. A
 * sweep that ends thousands of executions emits its events in one burst (about 400 bytes each), so
 * the bound must hold a mass failure, when the events matter most; 16 MiB holds about 40,000.
 */
const MAX_PENDING_BYTES = 16 * 1024 * 1024;
const KEEPALIVE_MS = 15_000;

/**
 * Streams events as `text/event-stream`. Writes never wait on the client: while its socket is
 * full, events queue (up to MAX_PENDING) and beyond that the client is disconnected, so a slow
 * client can never block a sweep.
 */
export function streamEvents(
  request: FastifyRequest,
  reply: FastifyReply,
  events: EventFeed,
  open: Set<ServerResponse>,
  /** Which events this client may see (a runner's); every event when absent. */
  filter?: EventFilter,
): void {
  const raw = reply.raw;
  // Tracked so that closing the server ends the streams instead of waiting for their clients.
  open.add(raw);
  reply.hijack();
  raw.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  raw.write(': connected\n\n');
  const pending: string[] = [];
  let pendingBytes = 0;
  let draining = false;

  const flush = () => {
    for (let chunk = pending.shift(); chunk !== undefined; chunk = pending.shift()) {
      pendingBytes -= chunk.length;
      if (!raw.write(chunk)) {
        draining = true;
        return;
      }
    }
    draining = false;
  };
  const send = (chunk: string) => {
    if (draining && pendingBytes + chunk.length > MAX_PENDING_BYTES) {
      close();
      raw.destroy();
      return;
    }
    pending.push(chunk);
    pendingBytes += chunk.length;
    if (!draining) flush();
  };

  const format = (event: VigilEvent) =>
    `event: ${event.type}\ndata: ${JSON.stringify({ ...event, at: iso(event.at) })}\n\n`;
  // A filtered client's events wait for their lookups in turn, so they arrive in order. A lookup
  // that fails drops that event rather than sending what might belong to another owner.
  let filtered: Promise<void> = Promise.resolve();
  const unsubscribe = events.on((event: VigilEvent) => {
    if (filter === undefined) {
      send(format(event));
      return;
    }
    filtered = filtered.then(async () => {
      if ((await filter(event).catch(() => false)) && open.has(raw)) send(format(event));
    });
  });
  const keepalive = setInterval(() => send(': keepalive\n\n'), KEEPALIVE_MS);
  keepalive.unref();
  const close = () => {
    unsubscribe();
    clearInterval(keepalive);
    open.delete(raw);
  };
  raw.on('drain', flush);
  raw.on('close', close);
  request.raw.on('close', close);
}
