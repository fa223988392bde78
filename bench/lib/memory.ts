/**
 * A server's memory as the benchmarks report it: a full garbage collection forced through the
 * inspector (the server runs with `--inspect=127.0.0.1:0`), then V8's heap in use and the process's
 * resident set (VmRSS from /proc).
 */
import { readFileSync } from 'node:fs';
import { within } from './common.js';

export interface Memory {
  /** V8 heap in use after a full GC (bytes). */
  heapUsed: number;
  /** Resident set of the process right after that GC (bytes); null where /proc is not available. */
  rss: number | null;
}

/** The inspector's WebSocket URL, from the line Node prints when `--inspect` is on. */
export function inspectorUrl(lines: readonly string[]): string | null {
  for (const line of lines) {
    const match = /Debugger listening on (ws:\/\/127\.0\.0\.1:\d+\/[\w-]+)/.exec(line);
    if (match) return match[1]!;
  }
  return null;
}

/** Lines Node prints because of `--inspect` (not the server's own output). */
export const isInspectorLine = (line: string) =>
  line.startsWith('Debugger listening on ') ||
  line.startsWith('Debugger ending on ') ||
  line.startsWith('For help, see: https://nodejs.org/') ||
  line === 'Debugger attached.' ||
  line.startsWith('Waiting for the debugger to disconnect');

function rssOf(pid: number): number | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
    return kib === undefined ? null : Number(kib) * 1024;
  } catch {
    return null;
  }
}

/** Forces a full GC in the server and reads its heap in use and resident set. */
export async function memoryAfterGc(url: string, pid: number): Promise<Memory> {
  const socket = new WebSocket(url);
  await within(
    new Promise<void>((resolve, reject) => {
      socket.addEventListener('open', () => resolve(), { once: true });
      socket.addEventListener('error', () => reject(new Error(`inspector ${url}: no connection`)), {
        once: true,
      });
    }),
    10_000,
    'inspector connection',
  );
  let next = 1;
  const pending = new Map<number, (result: unknown) => void>();
  socket.addEventListener('message', (event) => {
    const answer = JSON.parse(String(event.data)) as { id?: number; result?: unknown };
    if (answer.id !== undefined) pending.get(answer.id)?.(answer.result);
  });
  const send = (method: string) =>
    within(
      new Promise<unknown>((resolve) => {
        const id = next++;
        pending.set(id, resolve);
        socket.send(JSON.stringify({ id, method }));
      }),
      60_000,
      `inspector ${method}`,
    );
  try {
    await send('HeapProfiler.collectGarbage');
    await send('HeapProfiler.collectGarbage');
    const usage = (await send('Runtime.getHeapUsage')) as { usedSize: number };
    return { heapUsed: usage.usedSize, rss: rssOf(pid) };
  } finally {
    socket.close();
  }
}
