import { hostname } from 'node:os';
import { VigilApiError } from './errors.js';
import type { RunContext } from './run.js';
import { isTransient } from './transport.js';
import type { Execution } from './types.js';

/** What `client.worker()` is told besides the kind and the work. */
export interface WorkerOptions {
  /** This runner's name on its claims. Default: `<host>:<pid>`. */
  runner?: string | undefined;
  /** How many executions run at once, each from its own claim. Default 1. */
  concurrency?: number | undefined;
  /** How long one claim waits on the server for work, in ms (at most 30 000). Default 20 000. */
  waitMs?: number | undefined;
  /** Stops the worker when aborted, as `stop()` does. */
  signal?: AbortSignal | undefined;
  /** Claim only this owner's executions (admin token). A runner token claims its own owner's. */
  owner?: string | undefined;
  /** As for `run()`: called when a report arrived after the attempt had ended. */
  onLateResult?: ((execution: Execution) => void) | undefined;
  /**
   * The longest pause between claims while Vigil cannot be reached: 500 ms doubling up to this,
   * with jitter so that runners cut off together do not come back in step. Default 30 000.
   */
  maxBackoffMs?: number | undefined;
}

/** A running worker. */
export interface Worker {
  /** Stops claiming; resolves when the runs under way have reported. */
  stop(): Promise<void>;
  /**
   * Settles when the worker has stopped and its runs have reported; rejects when Vigil refuses
   * the claims themselves (a bad token, a kind or owner this token may not claim).
   */
  readonly done: Promise<void>;
  /** Executions running now. */
  readonly running: number;
}

/** What a worker needs of the client. */
export interface WorkerDeps {
  claim(
    kind: string,
    request: { runner: string; wait: number; owner?: string | undefined },
    signal: AbortSignal,
  ): Promise<Execution | null>;
  runClaimed<T>(
    execution: Execution,
    onLateResult: ((execution: Execution) => void) | undefined,
    fn: (ctx: RunContext) => T | Promise<T>,
  ): Promise<T>;
  onError(error: Error): void;
}

const FIRST_BACKOFF_MS = 500;
/**
 * The pause after a claim that found nothing. The claim itself waited on the server, so this only
 * keeps a worker with `waitMs: 0` (or a server that is closing and answers at once) from asking
 * in a tight loop.
 */
const IDLE_PAUSE_MS = 250;

/**
 * Claims executions of `kind` and runs `fn` for each inside `run()`'s machinery (liveness
 * heartbeats, `ctx.signal` on lost ownership, complete or fail, late results). Each of
 * `concurrency` loops claims (waiting on the server for work), runs, and claims again; a claim
 * that cannot reach Vigil is retried after a growing pause. Stopping ends the claims at once and
 * lets the runs under way finish and report.
 */
export function startWorker(
  deps: WorkerDeps,
  kind: string,
  fn: (ctx: RunContext) => unknown,
  options: WorkerOptions = {},
): Worker {
  const runner = options.runner ?? `${hostname()}:${process.pid}`;
  const concurrency = options.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new TypeError(`concurrency: expected an integer ≥ 1, got ${String(concurrency)}`);
  }
  const waitMs = Math.min(options.waitMs ?? 20_000, 30_000);
  const maxBackoffMs = options.maxBackoffMs ?? 30_000;
  const stopping = new AbortController();
  const stop = () => stopping.abort();
  options.signal?.addEventListener('abort', stop, { once: true });
  if (options.signal?.aborted) stop();
  let running = 0;

  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        stopping.signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      stopping.signal.addEventListener('abort', done, { once: true });
    });

  const loop = async () => {
    let failures = 0;
    while (!stopping.signal.aborted) {
      let execution: Execution | null;
      try {
        execution = await deps.claim(
          kind,
          {
            runner,
            wait: waitMs,
            ...(options.owner === undefined ? {} : { owner: options.owner }),
          },
          stopping.signal,
        );
        failures = 0;
      } catch (error) {
        if (stopping.signal.aborted) return;
        if (error instanceof VigilApiError && !isTransient(error)) throw error;
        failures++;
        const base = Math.min(maxBackoffMs, FIRST_BACKOFF_MS * 2 ** (failures - 1));
        if (failures === 1) deps.onError(new Error(`claim failed: ${messageOf(error)}`));
        await pause(base / 2 + (Math.random() * base) / 2);
        continue;
      }
      if (!execution) {
        await pause(IDLE_PAUSE_MS);
        continue;
      }
      running++;
      let threw = false;
      try {
        await deps.runClaimed(execution, options.onLateResult, async (ctx) => {
          try {
            return await fn(ctx);
          } catch (error) {
            threw = true;
            throw error;
          }
        });
      } catch (error) {
        // The work's own failure was reported as the execution's; anything else is the worker's.
        if (!threw) deps.onError(new Error(`execution ${execution.id}: ${messageOf(error)}`));
      } finally {
        running--;
      }
    }
  };

  const done = Promise.all(Array.from({ length: concurrency }, loop)).then(
    () => undefined,
    (error: unknown) => {
      stop();
      throw error;
    },
  );
  // A caller that only calls stop() must not see an unhandled rejection; done still rejects.
  done.catch(() => undefined);
  return {
    stop: async () => {
      stop();
      await done.catch(() => undefined);
    },
    done,
    get running() {
      return running;
    },
  };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
