import {
  LostOwnershipError,
  VigilApiError,
  isAlreadyEnded,
  isLostOwnership,
  lostOwnershipOf,
} from './errors.js';
import type { Liveness } from './liveness.js';
import { livenessIntervalMs, startLiveness } from './liveness.js';
import { isTransient } from './transport.js';
import type { Execution, Json, Progress, RegisterInput } from './types.js';

/** What `client.run()` is given besides the work itself. */
export interface RunOptions extends Omit<RegisterInput, 'status'> {
  /**
   * Called when the run's final report (complete or fail) arrived after the execution had already
   * ended — the watchdog ended it (the report is then kept as its `lateResult`) or an operator
   * cancelled it — with the execution as Vigil has it. `run()` still settles as the work did.
   * Default: a process warning (`process.emitWarning`, type "VigilLateResult").
   */
  onLateResult?: (execution: Execution) => void;
}

/** What the work function gets. */
export interface RunContext {
  readonly id: string;
  readonly attempt: number;
  /** The execution as registered (its resolved `limits` included). */
  readonly execution: Execution;
  /**
   * Aborted when the execution is no longer this runner's: the watchdog ended it, an operator
   * cancelled it (both seen on the next heartbeat), or the process is shutting down. The reason
   * is a `LostOwnershipError` (or an Error naming the shutdown signal). Stop the work when it fires.
   */
  readonly signal: AbortSignal;
  /**
   * Reports progress: a heartbeat WITH a progress marker (an incrementing counter when omitted).
   * This is what the `progress` limit judges. Call it from the work loop, where progress is made,
   * and await it: it rejects with a `LostOwnershipError` once the execution is no longer ours.
   * Calls made while one is in flight are coalesced into one request carrying the latest marker.
   * A transient failure (Vigil briefly unreachable) does not reject; it is passed to `onError`.
   */
  beat(progress?: Progress): Promise<void>;
  /**
   * Takes a named capacity slot or queue entry for this attempt (e.g. `agent:alpha:capacity`).
   * Rejects with a `VigilApiError` `slot_taken` (409) while another execution holds it. Vigil
   * releases it when this attempt ends, however it ends; `ttl` bounds how long it is held anyway.
   */
  acquireSlot(slot: string, options?: { ttl?: number | string }): Promise<SlotGrant>;
  /** Gives a slot back before the attempt ends. */
  releaseSlot(slot: string): Promise<{ released: boolean }>;
}

export interface SlotGrant {
  slot: string;
  attempt: number;
  expiresAt: string | null;
}

/** The API calls a run makes. */
export interface RunApi {
  register(input: RegisterInput): Promise<Execution>;
  heartbeat(id: string, beat: { attempt: number; progress?: Progress }): Promise<unknown>;
  complete(id: string, report: { attempt: number; result?: Json }): Promise<Execution>;
  fail(id: string, report: { attempt: number; error: Json }): Promise<Execution>;
  acquireSlot(
    id: string,
    request: { attempt: number; slot: string; ttl?: number | string | undefined },
  ): Promise<SlotGrant>;
  releaseSlot(id: string, slot: string, attempt: number): Promise<{ released: boolean }>;
}

/** A run that has started and not finished, as the shutdown handler sees it. */
export interface InFlightRun {
  readonly id: string;
  readonly attempt: number;
  readonly kind: string;
  /** Fails the execution with this reason and aborts its signal; its own report is then skipped. */
  shutdown(reason: string): Promise<void>;
}

export interface RunDeps {
  api: RunApi;
  /** What the liveness thread needs to send heartbeats itself. */
  connection: { url: string; token: string | null; retries: number };
  owner: string | null;
  registry: Map<string, InFlightRun>;
  onError: (error: Error) => void;
}

/**
 * Registers an execution (running), runs `fn` with liveness heartbeats from a worker thread and
 * progress heartbeats from `ctx.beat()`, and reports how it ended. Settles as `fn` did: resolves
 * its value or rejects with its error. Rejects otherwise only when registering fails, when the
 * liveness thread cannot start (the execution is then failed), or when a success cannot be
 * reported (Vigil unreachable after retries); a failure that cannot be reported is passed to
 * `onError` and `fn`'s error is thrown.
 */
export async function runExecution<T>(
  deps: RunDeps,
  options: RunOptions,
  fn: (ctx: RunContext) => T | Promise<T>,
): Promise<T> {
  const { onLateResult, ...registration } = options;
  const execution = await deps.api.register({
    ...registration,
    owner: registration.owner ?? deps.owner,
    status: 'running',
  });
  return runStarted(deps, execution, onLateResult, fn);
}

/**
 * Runs `fn` for an attempt already running for this runner (registered by `run()`, or claimed by
 * a worker): liveness, progress, the report, the late-result warning, as `runExecution` says.
 */
export async function runStarted<T>(
  deps: RunDeps,
  execution: Execution,
  onLateResult: ((execution: Execution) => void) | undefined,
  fn: (ctx: RunContext) => T | Promise<T>,
): Promise<T> {
  const { api } = deps;
  const { id, attempt } = execution;
  const controller = new AbortController();
  const lose = (reason: Error) => {
    if (!controller.signal.aborted) controller.abort(reason);
  };
  let isShutDown = false;
  let liveness: Liveness | undefined;

  const entry: InFlightRun = {
    id,
    attempt,
    kind: execution.kind,
    shutdown: async (reason) => {
      isShutDown = true;
      lose(new Error(reason));
      await liveness?.stop();
      await api.fail(id, { attempt, error: reason });
    },
  };
  deps.registry.set(id, entry);

  try {
    const intervalMs = livenessIntervalMs(execution.limits.heartbeat);
    try {
      liveness = startLiveness(
        {
          url: deps.connection.url,
          token: deps.connection.token,
          id,
          attempt,
          intervalMs,
          // A beat answered later than the heartbeat limit has missed anyway: give up on it then.
          timeoutMs: Math.min(10_000, Math.max(1_000, intervalMs * 3)),
          retries: deps.connection.retries,
        },
        {
          onLost: (status, reason) => lose(new LostOwnershipError(id, status, reason)),
          onError: deps.onError,
        },
      );
      // Starting a thread takes a while (longer still from TypeScript sources); until it runs,
      // this thread beats: it is idle now, and the first heartbeat limit must not be spent on
      // the thread's start-up.
      const bridge = setInterval(() => {
        api.heartbeat(id, { attempt }).catch((error: unknown) => {
          if (isLostOwnership(error)) lose(lostOwnershipOf(id, error));
        });
      }, intervalMs);
      try {
        await liveness.ready;
      } finally {
        clearInterval(bridge);
      }
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      await api.fail(id, { attempt, error: message }).catch(() => undefined);
      throw error;
    }

    const ctx: RunContext = {
      id,
      attempt,
      execution,
      signal: controller.signal,
      beat: progressBeats(deps, id, attempt, controller.signal, lose),
      acquireSlot: (slot, options = {}) =>
        api.acquireSlot(id, {
          attempt,
          slot,
          ...(options.ttl === undefined ? {} : { ttl: options.ttl }),
        }),
      releaseSlot: (slot) => api.releaseSlot(id, slot, attempt),
    };
    let outcome: { kind: 'resolved'; value: T } | { kind: 'threw'; error: unknown };
    try {
      outcome = { kind: 'resolved', value: await fn(ctx) };
    } catch (error) {
      outcome = { kind: 'threw', error };
    }
    await liveness.stop();
    if (isShutDown) return settle(outcome);

    const warnLate =
      onLateResult ??
      ((e: Execution) =>
        process.emitWarning(
          `execution ${e.id} had already ended (${e.status}${e.reason ? `: ${e.reason}` : ''}) when its runner reported`,
          'VigilLateResult',
        ));
    try {
      if (outcome.kind === 'resolved') {
        await api.complete(id, { attempt, result: toJson(outcome.value) });
      } else {
        await api.fail(id, { attempt, error: messageOf(outcome.error) });
      }
    } catch (error) {
      if (isAlreadyEnded(error)) {
        const ended = error.execution;
        if (ended && !isOwnReport(ended, attempt, outcome.kind)) warnLate(ended);
      } else if (outcome.kind === 'resolved') {
        throw error;
      } else {
        deps.onError(
          new Error(`could not report the failure of execution ${id}: ${messageOf(error)}`),
        );
      }
    }
    return settle(outcome);
  } finally {
    deps.registry.delete(id);
    await liveness?.stop();
  }
}

function settle<T>(outcome: { kind: 'resolved'; value: T } | { kind: 'threw'; error: unknown }): T {
  if (outcome.kind === 'threw') throw outcome.error;
  return outcome.value;
}

/**
 * A retried report whose first try did land (the answer was lost) comes back `already_ended` with
 * our own ending: that is not a late result.
 */
function isOwnReport(execution: Execution, attempt: number, kind: 'resolved' | 'threw'): boolean {
  return (
    execution.attempt === attempt &&
    execution.endedBy === 'runner' &&
    execution.lateResult === null &&
    execution.status === (kind === 'resolved' ? 'succeeded' : 'failed')
  );
}

/** `ctx.beat`: progress heartbeats, at most one in flight, later calls coalesced. */
function progressBeats(
  deps: RunDeps,
  id: string,
  attempt: number,
  signal: AbortSignal,
  lose: (reason: Error) => void,
): (progress?: Progress) => Promise<void> {
  let counter = 0;
  let latest: Progress = 0;
  let waiters: { resolve: () => void; reject: (error: unknown) => void }[] = [];
  let isSending = false;

  const send = async (progress: Progress) => {
    try {
      await deps.api.heartbeat(id, { attempt, progress });
    } catch (error) {
      if (isLostOwnership(error)) {
        lose(lostOwnershipOf(id, error));
      } else if (error instanceof VigilApiError && error.code === 'not_found') {
        lose(new LostOwnershipError(id, null, error.message));
      } else if (isTransient(error)) {
        deps.onError(new Error(`progress heartbeat failed: ${messageOf(error)}`));
        return;
      } else {
        throw error;
      }
      throw signal.reason;
    }
  };
  const pump = async () => {
    isSending = true;
    while (waiters.length > 0) {
      const batch = waiters;
      waiters = [];
      try {
        if (signal.aborted) throw signal.reason;
        await send(latest);
        for (const waiter of batch) waiter.resolve();
      } catch (error) {
        for (const waiter of batch) waiter.reject(error);
      }
    }
    isSending = false;
  };

  return (progress) => {
    if (signal.aborted) return Promise.reject(signal.reason as Error);
    latest = progress ?? ++counter;
    return new Promise<void>((resolve, reject) => {
      waiters.push({ resolve, reject });
      if (!isSending) void pump();
    });
  };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The work's value as JSON for `result`; `undefined` sends no result. */
function toJson(value: unknown): Json | undefined {
  if (value === undefined) return undefined;
  return JSON.parse(JSON.stringify(value) ?? 'null') as Json;
}
