/**
 * The process supervisor: checks each configured process (heartbeat file → judgement), counts
 * unhealthy checks, runs the recovery pipeline after N in a row, backs off, gives up, and carries
 * out an operator's on / off / restart. State and audit live in the store, so a cron-run
 * `vigil proc check` and `vigil serve` share them; a lease per process (`process:NAME`) keeps the
 * two from acting on one process at once.
 */
import type { LeaseStore } from '../ports/lease-store.js';
import type { StoreAdmin } from '../ports/store-admin.js';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { ProcessJudgement } from '../core/process-health.js';
import type { SupervisionEvent } from '../core/process-supervision.js';
import { afterOperatorStart, afterRecovery, decideCheck } from '../core/process-supervision.js';
import type { Clock } from '../ports.js';
import type { ProcessState, ProcessStore, RecoveryRecord } from '../ports/process-store.js';
import type { EventSink } from '../ports/events.js';
import type { ProcessStatus } from '../ports/process-status.js';
import type { ProcessConfig, RecoveryStep } from './config.js';
import type { PipelineResult } from './pipeline.js';
import { runPipeline } from './pipeline.js';
import {
  adoptHeartbeatPid,
  freshProcessState,
  isStartedAlive,
  observeProcess,
  startedIdentity,
  withPipeline,
} from './process-state.js';

export { leaseTtl, observeProcess, readHeartbeatFile } from './process-state.js';
import { takeProcessLease } from './process-lease.js';
import { EVENT_TYPE } from './process-state.js';

export interface SupervisorOptions {
  store: LeaseStore & Pick<StoreAdmin, 'processes'>;
  processes: readonly ProcessConfig[];
  clock: Clock;
  events: EventSink;
  /** Who holds the leases; default host:pid:random. */
  holder?: string | undefined;
  /** How long an operator command waits for a check elsewhere to let go of the process. */
  leaseWaitMs?: number | undefined;
  /** The pause and the maintenance windows, read before a recovery; none when absent. */
  gate?: ((now: number) => Promise<GateView>) | undefined;
}

export type { CheckAction, CheckResult, OperatorResult } from './check-result.js';
import type { CheckAction, CheckResult, OperatorResult } from './check-result.js';
import { heldRecovery } from './process-gate.js';
import type { GateView } from '../core/silence.js';

export type { ProcessStatus } from '../ports/process-status.js';

export class Supervisor {
  private readonly holder: string;
  private readonly states: ProcessStore;
  private readonly byName: Map<string, ProcessConfig>;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> | null = null;

  constructor(private readonly options: SupervisorOptions) {
    this.holder = options.holder ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.states = options.store.processes();
    this.byName = new Map(options.processes.map((p) => [p.name, p]));
  }

  get names(): string[] {
    return [...this.byName.keys()];
  }

  config(name: string): ProcessConfig | undefined {
    return this.byName.get(name);
  }

  /**
   * Checks every process (or those named), one at a time. A process whose check fails (its file
   * cannot be read, a step throws) is reported as `error` and the others are still checked.
   */
  async checkAll(names: readonly string[] = this.names): Promise<CheckResult[]> {
    const results: CheckResult[] = [];
    for (const name of names) {
      const config = this.byName.get(name);
      if (!config) continue;
      try {
        results.push(await this.check(config));
      } catch (error) {
        results.push({
          name,
          verdict: null,
          reason: `check failed: ${(error as Error).message}`,
          action: 'error',
          why: (error as Error).message,
          recovery: null,
        });
      }
    }
    return results;
  }

  /** One check of one process, and the recovery it calls for. */
  async check(config: ProcessConfig): Promise<CheckResult> {
    const { clock } = this.options;
    const lease = await takeProcessLease(this.options, this.holder, config, 0);
    if (!lease) {
      return {
        name: config.name,
        verdict: null,
        reason: 'another vigil is acting on it',
        action: 'skipped',
        why: 'skipped: another vigil holds its lease',
        recovery: null,
      };
    }
    try {
      // Read after taking the lease: an `off` written meanwhile must be seen.
      let state = await this.load(config.name);
      const now = clock.now();
      const judgement = observeProcess(config, state.startedAt, now);
      const decision = decideCheck(state, judgement, config, now);
      state = {
        ...state,
        ...decision.state,
        ...adoptHeartbeatPid(state, judgement),
        verdict: judgement.verdict,
        reason: judgement.reason,
        evidence: judgement.evidence,
        lastCheckAt: now,
      };
      this.emit(decision.events, config.name, judgement);

      let recovery: RecoveryRecord | null = null;
      let action: CheckAction = decision.action.kind === 'give_up' ? 'gave_up' : 'none';
      const held =
        decision.action.kind === 'recover'
          ? await heldRecovery(this.options.gate, config.name, judgement.verdict, now)
          : null;
      if (held !== null) {
        action = 'held';
        decision.action.why = `${decision.action.why}; ${held}`;
      } else if (decision.action.kind === 'recover') {
        const result = await this.recover(config, state, judgement, config.recovery, {
          trigger: judgement.verdict,
          reason: `${judgement.reason}; ${decision.action.why}`,
          renew: () => lease.renew(),
        });
        recovery = result.record;
        state = withPipeline(state, result.pipeline, config, this.options.clock.now());
        const after = afterRecovery(
          state,
          { succeeded: result.pipeline.outcome === 'ok' },
          config,
          clock.now(),
        );
        state = { ...state, ...after.state };
        this.emit(after.events, config.name, judgement);
        action = after.events.includes('gave_up')
          ? 'gave_up'
          : result.pipeline.outcome === 'ok'
            ? 'recovered'
            : 'recovery_failed';
      }
      await this.states.saveProcess(state);
      return {
        name: config.name,
        verdict: judgement.verdict,
        reason: judgement.reason,
        action,
        why: decision.action.why,
        recovery,
      };
    } finally {
      await lease.release();
    }
  }

  /** `off`: stop the process and keep it stopped until `on` (sticky across checks and restarts). */
  async off(name: string): Promise<OperatorResult> {
    return this.operate(name, async (config, state) => {
      state.enabled = false;
      state.consecutiveUnhealthy = 0;
      state.unhealthySince = null;
      state.nextRestartAt = null;
      // Saved before the kill: "off" holds even if this command dies while the process is stopped.
      await this.states.saveProcess(state);
      const judgement = observeProcess(config, null, this.options.clock.now());
      const result = await this.recover(config, state, judgement, [{ kind: 'kill' }], {
        trigger: 'operator:off',
        reason: 'turned off by an operator',
      });
      if (result.pipeline.outcome === 'ok') {
        state.pid = null;
        state.pidStartedAt = null;
      }
      return { state, record: result.record };
    });
  }

  /** `on`: supervise it again, and start it now unless it is already running. */
  async on(name: string): Promise<OperatorResult> {
    return this.operate(name, async (config, state) => {
      const now = this.options.clock.now();
      const judgement = observeProcess(config, null, now);
      // Turning it on clears the counters, the backoff and a give-up; it is not a restart.
      Object.assign(state, {
        ...afterOperatorStart(state, now),
        lastRestartAt: state.lastRestartAt,
      });
      const isAlive =
        judgement.verdict === 'healthy' || (state.pid !== null && isStartedAlive(state));
      if (isAlive || config.start === null) {
        return { state, record: null, detail: isAlive ? 'on; already running' : 'on' };
      }
      const result = await this.recover(config, state, judgement, [{ kind: 'start' }], {
        trigger: 'operator:on',
        reason: 'turned on by an operator',
      });
      if (result.pipeline.started) {
        state.pid = result.pipeline.started.pid;
        state.pidStartedAt = result.pipeline.started.pidStartedAt;
        state.startedAt = this.options.clock.now();
      }
      return { state, record: result.record };
    });
  }

  /** `restart`: the whole recovery pipeline now, whatever the health; clears backoff and give-up. */
  async restart(name: string): Promise<OperatorResult> {
    return this.operate(name, async (config, state) => {
      if (!state.enabled) {
        return {
          state,
          record: null,
          ok: false,
          detail: `${name} is off: turn it on with "vigil proc on ${name}"`,
        };
      }
      const judgement = observeProcess(config, null, this.options.clock.now());
      const result = await this.recover(config, state, judgement, config.recovery, {
        trigger: 'operator:restart',
        reason: 'restarted by an operator',
      });
      const next = withPipeline(state, result.pipeline, config, this.options.clock.now());
      return {
        state: { ...next, ...afterOperatorStart(next, this.options.clock.now()) },
        record: result.record,
      };
    });
  }

  /** Every configured process with its state; `null`s before its first check. */
  async status(): Promise<ProcessStatus[]> {
    const states = new Map((await this.states.listProcesses()).map((s) => [s.name, s]));
    return this.options.processes.map((config) => {
      const state = states.get(config.name) ?? freshProcessState(config.name);
      return {
        name: config.name,
        enabled: state.enabled,
        verdict: state.verdict,
        reason: state.reason,
        evidence: state.evidence,
        pid: state.pid,
        consecutiveUnhealthy: state.consecutiveUnhealthy,
        restarts: state.restarts,
        lastCheckAt: state.lastCheckAt,
        nextRestartAt: state.nextRestartAt,
        gaveUp: state.gaveUp,
      };
    });
  }

  recoveries(name: string | undefined, limit: number): Promise<RecoveryRecord[]> {
    return this.states.listRecoveries({ name, limit });
  }

  /** Checks every process every `intervalMs` until `stop()`. Errors go to `onError`. */
  start(intervalMs: number, onError: (error: unknown) => void): void {
    const tick = () => {
      this.running = this.checkAll()
        .catch(onError)
        .finally(() => {
          this.running = null;
          if (this.timer !== null) this.timer = setTimeout(tick, intervalMs);
        });
    };
    this.timer = setTimeout(tick, 0);
  }

  /** Stops the loop; resolves when a check under way has finished. */
  async stop(): Promise<void> {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  private async recover(
    config: ProcessConfig,
    state: ProcessState,
    judgement: ProcessJudgement,
    steps: readonly RecoveryStep[],
    how: { trigger: string; reason: string; renew?: () => Promise<void> },
  ): Promise<{ pipeline: PipelineResult; record: RecoveryRecord }> {
    const { clock } = this.options;
    const at = clock.now();
    const beat = judgement.beat;
    const pipeline = await runPipeline(config, steps, {
      clock,
      // Even an unverified pid is handed over: the kill step verifies it again before any
      // signal, and records why it left it alone.
      heartbeat:
        beat?.startedAt != null
          ? { pid: beat.pid, startedAt: beat.startedAt, source: 'heartbeat' }
          : null,
      started: startedIdentity(state),
      beforeStep: how.renew,
    });
    const record: RecoveryRecord = {
      id: randomUUID(),
      name: config.name,
      at,
      finishedAt: clock.now(),
      trigger: how.trigger,
      reason: how.reason,
      evidence: { verdict: judgement.verdict, ...judgement.evidence },
      steps: pipeline.steps,
      outcome: pipeline.outcome,
    };
    await this.states.recordRecovery(record);
    return { pipeline, record };
  }

  private async operate(
    name: string,
    act: (
      config: ProcessConfig,
      state: ProcessState,
    ) => Promise<{
      state: ProcessState;
      record: RecoveryRecord | null;
      ok?: boolean;
      detail?: string;
    }>,
  ): Promise<OperatorResult> {
    const config = this.byName.get(name);
    if (!config) throw new Error(`no process named ${name}`);
    const lease = await takeProcessLease(
      this.options,
      this.holder,
      config,
      this.options.leaseWaitMs ?? 30_000,
    );
    if (!lease) {
      return {
        name,
        ok: false,
        detail: 'another vigil is acting on it (its lease is held); try again',
        recovery: null,
      };
    }
    try {
      const state = await this.load(name);
      const done = await act(config, state);
      await this.states.saveProcess(done.state);
      const ok = done.ok ?? (done.record === null || done.record.outcome === 'ok');
      const detail =
        done.detail ??
        (done.record
          ? done.record.steps.map((s) => `${s.step} ${s.outcome}: ${s.detail}`).join('; ')
          : 'done');
      return { name, ok, detail, recovery: done.record };
    } finally {
      await lease.release();
    }
  }

  private async load(name: string): Promise<ProcessState> {
    return (await this.states.getProcess(name)) ?? freshProcessState(name);
  }

  private emit(events: SupervisionEvent[], name: string, judgement: ProcessJudgement): void {
    const details = {
      name,
      verdict: judgement.verdict,
      reason: judgement.reason,
      evidence: judgement.evidence,
    };
    for (const event of events) {
      this.options.events.emit({
        type: EVENT_TYPE[event],
        at: this.options.clock.now(),
        ...details,
      });
    }
  }
}
