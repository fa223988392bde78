/**
 * What Linux says about a process, read from /proc: its state, parent, process group and start
 * time. The start time is what makes a pid an identity: pids are reused, (pid, start time) is not.
 */
import { readFileSync, readdirSync } from 'node:fs';

export interface ProcessInfo {
  pid: number;
  /** One letter: R running, S sleeping, D disk wait, Z zombie, T stopped… */
  state: string;
  ppid: number;
  pgrp: number;
  /** Milliseconds since the epoch. */
  startedAt: number;
}

/**
 * Clock ticks per second of /proc/PID/stat's `starttime`: USER_HZ, fixed at 100 by the kernel ABI
 * on every architecture Node.js runs on (x86, ARM, POWER, s390x).
 */
const USER_HZ = 100;

/** When the machine booted, in milliseconds since the epoch (`btime` of /proc/stat). */
function bootTime(): number | null {
  try {
    const match = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'));
    return match ? Number(match[1]) * 1_000 : null;
  } catch {
    return null;
  }
}

/** The fields of /proc/PID/stat from the third (state) on, or null when there is no such pid. */
function statFields(pid: number): string[] | null {
  if (!Number.isInteger(pid) || pid <= 0) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may itself hold spaces and parentheses.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** The process with this pid, or null when there is none (or /proc cannot tell). */
export function processInfo(pid: number): ProcessInfo | null {
  const fields = statFields(pid);
  const boot = bootTime();
  const ticks = Number(fields?.[19]);
  if (fields === null || boot === null || !Number.isFinite(ticks)) return null;
  return {
    pid,
    state: fields[0] ?? '?',
    ppid: Number(fields[1]),
    pgrp: Number(fields[2]),
    startedAt: boot + Math.round((ticks * 1_000) / USER_HZ),
  };
}

/** A zombie has exited and only waits to be reaped: it is not running. */
export const isRunning = (info: ProcessInfo | null): info is ProcessInfo =>
  info !== null && info.state !== 'Z' && info.state !== 'X';

/** The start time of the process running as `pid` now, or null when none runs. */
export function processStartTime(pid: number): number | null {
  const info = processInfo(pid);
  return isRunning(info) ? info.startedAt : null;
}

/** Running members of process group `pgid`. */
export function groupMembers(pgid: number): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const members: number[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = statFields(Number(entry));
    const state = fields?.[0];
    if (fields && state !== 'Z' && state !== 'X' && Number(fields[2]) === pgid) {
      members.push(Number(entry));
    }
  }
  return members;
}
