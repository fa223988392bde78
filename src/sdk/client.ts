import { isAlreadyEnded } from './errors.js';
import type { InFlightRun, RunContext, RunDeps, RunOptions, SlotGrant } from './run.js';
import { runExecution, runStarted } from './run.js';
import type { Worker, WorkerOptions } from './worker.js';
import { startWorker } from './worker.js';
import { Transport } from './transport.js';
import type {
  Beat,
  Execution,
  HeartbeatsAnswer,
  Json,
  Progress,
  RegisterInput,
  RegisterResult,
} from './types.js';

export const DEFAULT_URL = 'http://127.0.0.1:7070';

/** The most items `POST /v1/executions/batch` takes in one request. */
const MAX_BATCH = 1_000;

export interface VigilClientOptions {
  /** The service. Default: `VIGIL_URL`, else `http://127.0.0.1:7070`. */
  url?: string | undefined;
  /** Bearer token. Default: `VIGIL_TOKEN`; none when unset. */
  token?: string | null | undefined;
  /** Owner given to executions this client registers when they name none. Default: none. */
  owner?: string | null | undefined;
  /**
   * The fetch the client's own requests use. Default: the global fetch. The liveness thread of
   * `run()` always uses its own global fetch (a function cannot cross to a worker thread).
   */
  fetch?: typeof fetch | undefined;
  /** Per-request timeout. Default 10 s. */
  timeoutMs?: number | undefined;
  /**
   * Retries of a transient failure (connection refused or reset, timeout, 502/503/504) for the
   * requests that are safe to repeat: heartbeats, complete, fail and get. Default 3. Never a 4xx.
   */
  retries?: number | undefined;
  /**
   * How long a final report (complete or fail) keeps being retried through transient failures, so
   * that a result survives a restart of Vigil. Default 60 s. Reports are fenced by attempt, so a
   * repeat is harmless.
   */
  reportRetryMs?: number | undefined;
  /**
   * Failures in the background that nobody awaits: a liveness heartbeat that failed (reported
   * once per streak of failures), a failure that could not be reported. Default:
   * `process.emitWarning` (type "VigilWarning").
   */
  onError?: ((error: Error) => void) | undefined;
  /** Where `VIGIL_URL` and `VIGIL_TOKEN` are read from. Default: `process.env`. */
  env?: Record<string, string | undefined> | undefined;
}

const path = (id: string, action?: string) =>
  `/v1/executions/${encodeURIComponent(id)}${action ? `/${action}` : ''}`;

/**
 * A typed client of Vigil's HTTP API for runners, and `run()`, which wraps a unit of work as an
 * execution. Errors are `VigilApiError` (Vigil answered 4xx/5xx) or `VigilConnectionError`.
 */
export class VigilClient {
  readonly url: string;
  readonly owner: string | null;
  private readonly transport: Transport;
  private readonly token: string | null;
  private readonly retries: number;
  private readonly timeoutMs: number;
  private readonly reportRetryMs: number;
  private readonly onError: (error: Error) => void;
  private readonly inFlight = new Map<string, InFlightRun>();

  constructor(options: VigilClientOptions = {}) {
    const env = options.env ?? process.env;
    this.url = options.url ?? (env.VIGIL_URL || DEFAULT_URL);
    this.token = options.token === undefined ? env.VIGIL_TOKEN || null : options.token;
    this.owner = options.owner ?? null;
    this.retries = options.retries ?? 3;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.reportRetryMs = options.reportRetryMs ?? 60_000;
    this.onError =
      options.onError ?? ((error) => process.emitWarning(error.message, 'VigilWarning'));
    this.transport = new Transport({
      url: this.url,
      token: this.token,
      fetch: options.fetch ?? globalThis.fetch,
      timeoutMs: this.timeoutMs,
      retries: this.retries,
    });
  }

  /** `POST /v1/executions`: registers an execution (running unless `status: "queued"`). */
  register(input: RegisterInput): Promise<Execution> {
    return this.transport.request('POST', '/v1/executions', this.withOwner(input));
  }

  /**
   * `POST /v1/executions/batch`: registers many executions, 1,000 per request (one request after
   * another for more). Resolves one result per input, in order: `{execution}`, or `{error: {code,
   * message}}` for that item alone (e.g. `already_exists`); a request refused as a whole throws.
   */
  async registerMany(inputs: readonly RegisterInput[]): Promise<RegisterResult[]> {
    const results: RegisterResult[] = [];
    for (let i = 0; i < inputs.length; i += MAX_BATCH) {
      const executions = inputs.slice(i, i + MAX_BATCH).map((input) => this.withOwner(input));
      const answer = await this.transport.request<{ results: RegisterResult[] }>(
        'POST',
        '/v1/executions/batch',
        { executions },
      );
      results.push(...answer.results);
    }
    return results;
  }

  /** The client's default owner given to an input that names none. */
  private withOwner(input: RegisterInput): RegisterInput {
    const owner = input.owner === undefined ? this.owner : input.owner;
    return { ...input, ...(owner === null ? {} : { owner }) };
  }

  /** `GET /v1/executions/:id`. */
  get(id: string): Promise<Execution> {
    return this.transport.request('GET', path(id), undefined, { retry: true });
  }

  /** `POST /v1/executions/:id/start`: queued → running. */
  start(id: string, attempt: number): Promise<Execution> {
    return this.transport.request('POST', path(id, 'start'), { attempt });
  }

  /**
   * `POST /v1/executions/:id/heartbeat`. With `progress`, it also counts as progress. Throws a
   * `VigilApiError` with code `lost_ownership` (409) when the execution is no longer this
   * attempt's: the runner must stop.
   */
  heartbeat(
    id: string,
    beat: { attempt: number; progress?: Progress | undefined },
  ): Promise<{ deadlineAt: string | null }> {
    return this.transport.request('POST', path(id, 'heartbeat'), beat, { retry: true });
  }

  /** `POST /v1/heartbeats`: many beats in one request; lost ones are listed, not thrown. */
  heartbeats(beats: Beat[]): Promise<HeartbeatsAnswer> {
    return this.transport.request('POST', '/v1/heartbeats', { beats }, { retry: true });
  }

  /** `POST /v1/executions/:id/complete`. 409 `already_ended` when it had ended first. */
  complete(id: string, report: { attempt: number; result?: Json | undefined }): Promise<Execution> {
    return this.transport.request('POST', path(id, 'complete'), report, {
      retry: true,
      retryForMs: this.reportRetryMs,
    });
  }

  /** `POST /v1/executions/:id/fail`. 409 `already_ended` when it had ended first. */
  fail(
    id: string,
    report: { attempt: number; error: Json; retryable?: boolean | undefined },
  ): Promise<Execution> {
    return this.transport.request('POST', path(id, 'fail'), report, {
      retry: true,
      retryForMs: this.reportRetryMs,
    });
  }

  /**
   * `POST /v1/executions/:id/slots`: takes a named slot for this attempt. 409 `slot_taken` (with
   * `details.holder`) while another execution holds it.
   */
  acquireSlot(
    id: string,
    request: { attempt: number; slot: string; ttl?: number | string | undefined },
  ): Promise<SlotGrant> {
    return this.transport.request('POST', path(id, 'slots'), request);
  }

  /** `DELETE /v1/executions/:id/slots/:slot`: gives a slot back before the attempt ends. */
  releaseSlot(id: string, slot: string, attempt: number): Promise<{ released: boolean }> {
    return this.transport.request(
      'DELETE',
      `${path(id, 'slots')}/${encodeURIComponent(slot)}?attempt=${attempt}`,
    );
  }

  /**
   * `POST /v1/schedules/:name/start|ping|fail`: tells Vigil a run of a schedule (`schedules:`)
   * started, happened, or failed — for cron jobs that do not register an execution.
   */
  pingSchedule(
    name: string,
    ping: 'start' | 'success' | 'fail',
    message?: string,
  ): Promise<{ schedule: string; ping: string; at: string }> {
    const route = ping === 'success' ? 'ping' : ping;
    return this.transport.request(
      'POST',
      `/v1/schedules/${encodeURIComponent(name)}/${route}`,
      message === undefined ? {} : { message },
      { retry: true },
    );
  }

  /** `POST /v1/executions/:id/cancel` (operator; needs the admin token when tokens are set). */
  cancel(id: string, options: { reason?: string } = {}): Promise<Execution> {
    return this.transport.request('POST', path(id, 'cancel'), options);
  }

  /**
   * Runs `fn` as an execution: registers it (running), keeps it alive with heartbeats from a
   * worker thread while `fn` runs, and completes it with `fn`'s value or fails it with `fn`'s
   * error message. Resolves/rejects as `fn` did. See docs/sdk.md and `RunContext`.
   */
  run<T>(options: RunOptions, fn: (ctx: RunContext) => T | Promise<T>): Promise<T> {
    return runExecution(this.runDeps(), options, fn);
  }

  /**
   * `POST /v1/kinds/:kind/claim`: the next queued attempt of `kind` whose backoff has ended,
   * already running for this runner, or null when none came within `wait` (ms, at most 30 000).
   */
  async claim(
    kind: string,
    request: { runner: string; wait?: number | undefined; owner?: string | undefined },
    signal?: AbortSignal,
  ): Promise<Execution | null> {
    const wait = request.wait ?? 0;
    const answer = await this.transport.request<{ execution: Execution | null }>(
      'POST',
      `/v1/kinds/${encodeURIComponent(kind)}/claim`,
      request,
      // The server holds the answer up to `wait`: the request may take that long on top.
      { timeoutMs: wait + this.timeoutMs, signal },
    );
    return answer.execution;
  }

  /**
   * Runs `fn` for every execution of `kind` this runner can claim: queued registrations and the
   * retries the watchdog queues, each inside `run()`'s machinery (liveness, `ctx.signal`,
   * complete or fail, late results), `concurrency` at a time. Stop it with `stop()` or
   * `options.signal`; see docs/sdk.md.
   */
  worker(kind: string, fn: (ctx: RunContext) => unknown, options: WorkerOptions = {}): Worker {
    return startWorker(
      {
        claim: (k, request, signal) => this.claim(k, request, signal),
        runClaimed: (execution, onLateResult, work) =>
          runStarted(this.runDeps(), execution, onLateResult, work),
        onError: this.onError,
      },
      kind,
      fn,
      options,
    );
  }

  private runDeps(): RunDeps {
    return {
      api: this,
      connection: { url: this.url, token: this.token, retries: this.retries },
      owner: this.owner,
      registry: this.inFlight,
      onError: this.onError,
    };
  }

  /** Runs started by `run()` in this client that have not finished. */
  get running(): readonly { id: string; attempt: number; kind: string }[] {
    return [...this.inFlight.values()].map(({ id, attempt, kind }) => ({ id, attempt, kind }));
  }

  /**
   * Fails every run of this client that has not finished, with `reason` as its error (and so its
   * reason), and aborts their signals. For a runner going away: see `installShutdownHandler`.
   * Resolves when every report has been answered; failures to report are passed to `onError`.
   */
  async failRunning(reason: string): Promise<void> {
    const runs = [...this.inFlight.values()];
    const results = await Promise.allSettled(runs.map((run) => run.shutdown(reason)));
    results.forEach((result, i) => {
      // already_ended: the watchdog or an operator ended it first; nothing left to do.
      if (result.status === 'rejected' && !isAlreadyEnded(result.reason)) {
        const message =
          result.reason instanceof Error ? result.reason.message : String(result.reason);
        this.onError(new Error(`could not fail execution ${runs[i]?.id ?? '?'}: ${message}`));
      }
    });
  }
}
