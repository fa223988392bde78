import type { ProbeState } from '../core/probe.js';
import { INITIAL_PROBE_STATE, matchResponse, observeProbe } from '../core/probe.js';
import type { CheckResult } from '../core/probe.js';
import type { Clock } from '../ports.js';
import type { EventSink } from '../ports/events.js';
import { PeriodicChecks } from '../shared/periodic.js';
import { httpRequest } from '../shared/http-request.js';
import type { ProbeSpec } from './probe-config.js';

/**
 * What a failing probe may trigger beyond its event: the recovery pipeline of the supervised
 * process it names (`probes.NAME.process`). The process supervisor implements it; the probe
 * monitor calls it once per transition to failing, never for every failed check, and never waits
 * for it (a recovery pipeline may take minutes; the probe keeps checking meanwhile).
 */
export interface ProcessRecoveryHook {
  onFailing(
    processName: string,
    cause: { probe: string; url: string; reason: string; at: number },
  ): void | Promise<void>;
}

/** One probe as `GET /v1/probes` shows it. */
export interface ProbeStatus extends ProbeState {
  name: string;
  url: string;
}

export interface ProbeMonitorOptions {
  probes: readonly ProbeSpec[];
  clock: Clock;
  events: EventSink;
  /** Set later by whoever wires the process supervisor; see ProcessRecoveryHook. */
  processHook?: ProcessRecoveryHook | null | undefined;
  onError?: ((error: unknown, where: string) => void) | undefined;
}

/**
 * Checks HTTP health endpoints and turns their answers into `probe:failing` / `probe:recovered`
 * events, once per transition. Each probe is independent: one that hangs or throws never delays
 * or stops the others.
 */
export class ProbeMonitor extends PeriodicChecks<ProbeSpec, ProbeStatus> {
  processHook: ProcessRecoveryHook | null;
  private readonly states = new Map<string, ProbeState>();

  constructor(private readonly options: ProbeMonitorOptions) {
    super(options.probes);
    this.processHook = options.processHook ?? null;
    for (const probe of options.probes) this.states.set(probe.name, INITIAL_PROBE_STATE);
  }

  /** Every probe's current state, in configuration order. */
  status(): ProbeStatus[] {
    return this.options.probes.map((probe) => ({
      name: probe.name,
      url: probe.url,
      ...(this.states.get(probe.name) ?? INITIAL_PROBE_STATE),
    }));
  }

  protected describe(name: string): string {
    return `probe ${name}`;
  }

  protected reportError(error: unknown, where: string): void {
    this.report(error, where);
  }

  protected async runCheck(spec: ProbeSpec): Promise<ProbeStatus> {
    const answer = await httpRequest(spec.url, {
      headers: spec.headers,
      timeoutMs: spec.timeoutMs,
    });
    const result: CheckResult =
      answer.kind === 'error'
        ? { ok: false, error: answer.error }
        : matchResponse(spec.expect, answer);
    const now = this.options.clock.now();
    const previous = this.states.get(spec.name) ?? INITIAL_PROBE_STATE;
    const { state, transition } = observeProbe(previous, result, spec, now);
    this.states.set(spec.name, state);
    if (transition?.kind === 'failing') {
      this.options.events.emit({
        type: 'probe:failing',
        at: now,
        probe: spec.name,
        url: spec.url,
        reason: transition.reason,
        consecutiveFailures: transition.consecutiveFailures,
        process: spec.process,
      });
      if (spec.process !== null) this.triggerRecovery(spec, spec.process, transition.reason, now);
    } else if (transition?.kind === 'recovered') {
      this.options.events.emit({
        type: 'probe:recovered',
        at: now,
        probe: spec.name,
        url: spec.url,
        consecutiveSuccesses: transition.consecutiveSuccesses,
        failingForMs: transition.failingForMs,
      });
    }
    return { name: spec.name, url: spec.url, ...state };
  }

  private triggerRecovery(spec: ProbeSpec, processName: string, reason: string, at: number): void {
    const hook = this.processHook;
    if (!hook) {
      this.report(
        new Error(
          `probe ${spec.name} is failing and names process ${processName}, but no process supervisor is wired`,
        ),
        `probe ${spec.name}`,
      );
      return;
    }
    void Promise.resolve()
      .then(() => hook.onFailing(processName, { probe: spec.name, url: spec.url, reason, at }))
      .catch((error: unknown) => this.report(error, `recovery of ${processName}`));
  }

  private report(error: unknown, where: string): void {
    this.options.onError?.(error, where);
  }
}
