import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { ExecutionStatus } from './types.js';

/** What the liveness thread is started with. */
export interface LivenessWorkerData {
  url: string;
  token: string | null;
  id: string;
  attempt: number;
  intervalMs: number;
  timeoutMs: number;
  retries: number;
}

/** What the liveness thread tells the main thread. */
export type LivenessMessage =
  | { type: 'ready' }
  | { type: 'lost'; status: ExecutionStatus | null; reason: string }
  | { type: 'error'; message: string; transient: boolean };

/**
 * How often the liveness thread beats for a heartbeat limit: a third of it, so that two beats in a
 * row can be lost or late before the limit is crossed (ending live work is the worse mistake),
 * clamped to [100 ms, 10 s]: faster only loads the service, and 10 s keeps a cancel or a
 * watchdog verdict from going unnoticed for long. Without a heartbeat limit, every 10 s: the beats
 * are then only how the runner learns that the execution is no longer its own.
 */
export function livenessIntervalMs(heartbeatLimitMs: number | null): number {
  if (heartbeatLimitMs === null) return 10_000;
  return Math.min(10_000, Math.max(100, Math.floor(heartbeatLimitMs / 3)));
}

export interface Liveness {
  /** Resolves once the thread runs; rejects when it could not be started. */
  readonly ready: Promise<void>;
  /** Ends the thread. Idempotent. */
  stop(): Promise<void>;
}

export interface LivenessHandlers {
  onLost: (status: ExecutionStatus | null, reason: string) => void;
  onError: (error: Error) => void;
}

/**
 * The compiled worker next to this module (dist/sdk/liveness-worker.js). Running from the
 * TypeScript sources (vitest, `node --import tsx`) there is none: the .ts file is then loaded
 * through tsx, registered inside the worker by a small bootstrap (in Node 20 a loader given to a
 * worker with `--import` does not apply to the worker's own entry module). tsx is resolved from
 * here, so that this does not depend on the working directory.
 */
function workerEntry(): { entry: URL } | { bootstrap: string } {
  const compiled = new URL('./liveness-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(compiled))) return { entry: compiled };
  const source = new URL('./liveness-worker.ts', import.meta.url);
  if (!existsSync(fileURLToPath(source))) {
    throw new Error(`the Vigil liveness worker is missing: expected ${fileURLToPath(compiled)}`);
  }
  const tsxPackage = createRequire(import.meta.url).resolve('tsx/package.json');
  const { exports } = JSON.parse(readFileSync(tsxPackage, 'utf8')) as {
    exports: Record<string, { import?: { default?: string } }>;
  };
  const api = exports['./esm/api']?.import?.default;
  if (!api) throw new Error(`cannot load ${fileURLToPath(source)}: tsx has no ESM API`);
  const apiUrl = new URL(api, pathToFileURL(tsxPackage)).href;
  return {
    bootstrap: [
      `const { register } = await import(${JSON.stringify(apiUrl)});`,
      'register();',
      `await import(${JSON.stringify(source.href)});`,
    ].join('\n'),
  };
}

/** Starts the liveness thread for one attempt of one execution. */
export function startLiveness(data: LivenessWorkerData, handlers: LivenessHandlers): Liveness {
  const how = workerEntry();
  const worker =
    'entry' in how
      ? new Worker(how.entry, { workerData: data })
      : new Worker(how.bootstrap, { eval: true, workerData: data });
  let stopped = false;
  let isReady = false;
  let settle: { resolve: () => void; reject: (error: Error) => void } | undefined;
  const ready = new Promise<void>((resolve, reject) => {
    settle = { resolve, reject };
  });
  worker.on('message', (message: LivenessMessage) => {
    if (stopped) return;
    switch (message.type) {
      case 'ready':
        isReady = true;
        settle?.resolve();
        return;
      case 'lost':
        handlers.onLost(message.status, message.reason);
        return;
      case 'error':
        handlers.onError(new Error(`liveness heartbeat failed: ${message.message}`));
        return;
    }
  });
  worker.on('error', (error) => {
    if (stopped) return;
    const wrapped = new Error(`the Vigil liveness worker failed: ${error.message}`, {
      cause: error,
    });
    if (isReady) handlers.onError(wrapped);
    else settle?.reject(wrapped);
  });
  worker.on('exit', (code) => {
    settle?.reject(new Error(`the Vigil liveness worker exited (code ${code}) before it started`));
  });
  // `ready` may never be awaited once the run is over; its rejection is not an unhandled one.
  ready.catch(() => undefined);
  return {
    ready,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await worker.terminate();
    },
  };
}
