/**
 * The `kill` step: SIGTERM to the process group, a grace period, SIGKILL, and confirmation that
 * every member is gone. Identity (pid and start time) is verified right before every signal, so a
 * pid that now belongs to an unrelated process is never signalled.
 */
import { IDENTITY_TOLERANCE_MS } from '../core/process-health.js';
import type { JsonValue } from '../core/types.js';
import { delay } from './spawn-command.js';
import { groupMembers, isRunning, processInfo } from '../shared/proc.js';

/** A process as Vigil knows it: a pid and the start time that makes it this process. */
export interface Identity {
  pid: number;
  startedAt: number;
  /** Where Vigil learnt it: "heartbeat" or "started by vigil". */
  source: string;
}

/**
 * What to signal. A group when the process leads it (or belongs to the group Vigil started), so
 * its children go too; the pid alone otherwise, since another group may be a user's shell.
 */
type Target =
  { kind: 'group'; pgid: number; leader: Identity } | { kind: 'pid'; identity: Identity };

const matches = (identity: Identity): boolean => {
  const info = processInfo(identity.pid);
  return isRunning(info) && Math.abs(info.startedAt - identity.startedAt) <= IDENTITY_TOLERANCE_MS;
};

/**
 * A group may be signalled while its leader is this identity, or while the leader has exited and
 * members remain: Linux does not hand out a pid that is still some group's id, so the members
 * left behind are the leader's own children.
 */
function isSafeToSignal(target: Target): boolean {
  if (target.kind === 'pid') return matches(target.identity);
  const leader = processInfo(target.pgid);
  if (isRunning(leader)) return matches(target.leader);
  return groupMembers(target.pgid).length > 0;
}

function isGone(target: Target): boolean {
  if (target.kind === 'pid') return !matches(target.identity);
  return !matches(target.leader) && groupMembers(target.pgid).length === 0;
}

const describe = (target: Target): string =>
  target.kind === 'group' ? `process group ${target.pgid}` : `pid ${target.identity.pid}`;

export interface StepOutcome {
  outcome: 'ok' | 'failed' | 'skipped' | 'warned';
  detail: string;
  evidence: Record<string, JsonValue>;
}

/** Works out what may be signalled; notes why anything else is left alone. */
function plan(
  heartbeat: Identity | null,
  started: Identity | null,
): { targets: Target[]; notes: string[] } {
  const targets: Target[] = [];
  const notes: string[] = [];
  const add = (target: Target) => {
    const key = describe(target);
    if (!targets.some((t) => describe(t) === key)) targets.push(target);
  };
  for (const identity of [started, heartbeat]) {
    if (identity === null) continue;
    const info = processInfo(identity.pid);
    if (!isRunning(info)) {
      // The leader Vigil started has exited, but children it left in its group may still run.
      if (identity === started && groupMembers(identity.pid).length > 0) {
        add({ kind: 'group', pgid: identity.pid, leader: identity });
      } else {
        notes.push(`pid ${identity.pid} (${identity.source}) is not running`);
      }
      continue;
    }
    if (Math.abs(info.startedAt - identity.startedAt) > IDENTITY_TOLERANCE_MS) {
      notes.push(
        `pid ${identity.pid} (${identity.source}) now belongs to another process (started ${new Date(info.startedAt).toISOString()}, expected ${new Date(identity.startedAt).toISOString()}): not signalled`,
      );
      continue;
    }
    if (info.pgrp === identity.pid) add({ kind: 'group', pgid: info.pgrp, leader: identity });
    else if (started !== null && info.pgrp === started.pid && matches(started)) {
      add({ kind: 'group', pgid: started.pid, leader: started });
    } else add({ kind: 'pid', identity });
  }
  return { targets, notes };
}

function signal(target: Target, name: NodeJS.Signals): string | null {
  if (!isSafeToSignal(target)) return null;
  try {
    process.kill(target.kind === 'group' ? -target.pgid : target.identity.pid, name);
    return name;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ESRCH') return null; // gone in between
    throw error;
  }
}

async function waitGone(targets: Target[], ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (targets.every(isGone)) return true;
    if (Date.now() >= deadline) return false;
    await delay(25);
  }
}

/**
 * Stops the process Vigil knows as `started` and the one its heartbeat names: SIGTERM to each,
 * up to `stopGraceMs` to exit, SIGKILL to what is left, up to `confirmMs` to see it gone.
 */
export async function killProcess(
  heartbeat: Identity | null,
  started: Identity | null,
  options: { stopGraceMs: number; confirmMs: number },
): Promise<StepOutcome> {
  const { targets, notes } = plan(heartbeat, started);
  if (targets.length === 0) {
    return {
      outcome: 'skipped',
      detail: notes.length > 0 ? notes.join('; ') : 'no process known to stop',
      evidence: { notes },
    };
  }
  const sent: Record<string, string[]> = {};
  const record = (target: Target, name: string | null) => {
    if (name !== null) (sent[describe(target)] ??= []).push(name);
  };
  try {
    for (const target of targets) record(target, signal(target, 'SIGTERM'));
    let isDone = await waitGone(targets, options.stopGraceMs);
    if (!isDone) {
      for (const target of targets.filter((t) => !isGone(t))) {
        record(target, signal(target, 'SIGKILL'));
      }
      isDone = await waitGone(targets, options.confirmMs);
    }
    const evidence: Record<string, JsonValue> = { signals: sent, notes };
    const stopped = targets.map(describe).join(', ');
    if (!isDone) {
      const left = targets.filter((t) => !isGone(t)).map(describe);
      return {
        outcome: 'failed',
        detail: `still running after SIGKILL: ${left.join(', ')}`,
        evidence: { ...evidence, left },
      };
    }
    return { outcome: 'ok', detail: `stopped ${stopped}`, evidence };
  } catch (error) {
    return {
      outcome: 'failed',
      detail: `could not signal: ${(error as Error).message}`,
      evidence: { signals: sent, notes },
    };
  }
}
