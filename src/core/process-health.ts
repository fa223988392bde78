/**
 * Health of a supervised process, judged from its heartbeat file and from what the operating system
 * says about the pid the file names. Pure: the runtime reads the file and /proc, and passes `now`.
 */
import { formatDuration } from './duration.js';
import { toIso } from './iso-time.js';
import type { HeartbeatFormat, ProcessHeartbeat } from './heartbeat-format.js';
import { DEFAULT_HEARTBEAT_FORMAT, isErrorStatus, parseHeartbeat } from './heartbeat-format.js';

export type { HeartbeatFormat, ProcessHeartbeat } from './heartbeat-format.js';
export { isErrorStatus, parseHeartbeat } from './heartbeat-format.js';
import type { JsonValue } from './types.js';

export const PROCESS_VERDICTS = [
  'healthy',
  'no_heartbeat',
  'stale_pid',
  'timed_out',
  'error_status',
] as const;
export type ProcessVerdict = (typeof PROCESS_VERDICTS)[number];

/** What reading the heartbeat file gave: nothing, an error, or its text. */
export type HeartbeatRead =
  { kind: 'missing' } | { kind: 'unreadable'; error: string } | { kind: 'text'; text: string };

export interface ProcessHealthPolicy {
  name: string;
  /** The longest silence allowed: a beat older than this is `timed_out`. Exactly at it is healthy. */
  heartbeatMs: number;
  /** After Vigil starts the process, unhealthy verdicts (but `error_status`) do not count this long. */
  startupGraceMs: number;
  /** How the process writes its heartbeat; default Vigil's own format. */
  format?: HeartbeatFormat | undefined;
}

/**
 * How far the heartbeat's `startedAt` may be from the operating system's start time of its pid and
 * still be the same process. The SDK writes the OS start time itself, so the two agree to the
 * clock tick; other writers take it a moment after exec. A pid is only reused after the kernel
 * has cycled through every other pid (32,768 at least, usually 4 million), which does not happen
 * within seconds: two seconds tell a recycled pid apart, and a wider margin would only risk
 * signalling an unrelated process — the worse mistake.
 */
export const IDENTITY_TOLERANCE_MS = 2_000;

/**
 * A beat dated further ahead than this is not proof of life: clocks on one machine agree to a few
 * milliseconds, so a beat from the future is a bad writer or a clock that jumped, and trusting it
 * would hide a hung process for as long as it claims.
 */
export const FUTURE_TOLERANCE_MS = 2_000;

export interface ProcessObservation {
  read: HeartbeatRead;
  /**
   * The start time the operating system reports for the heartbeat's pid now; null when no process
   * (or only a zombie) has that pid. Only looked at when the file parsed.
   */
  pidStartedAt: number | null;
}

export interface ProcessJudgement {
  verdict: ProcessVerdict;
  reason: string;
  /** Within the startup grace after Vigil started the process: an unhealthy verdict does not count. */
  inGrace: boolean;
  /** The heartbeat, when the file parsed. */
  beat: ProcessHeartbeat | null;
  /** Whether the heartbeat's pid is the process that wrote it (same start time). */
  isIdentityVerified: boolean;
  evidence: Record<string, JsonValue>;
}

const iso = toIso;

/**
 * Judges one process from its heartbeat file and its pid. `startedByVigilAt` is when Vigil last
 * started it (for the startup grace), or null.
 */
export function judgeProcess(
  observation: ProcessObservation,
  policy: ProcessHealthPolicy,
  startedByVigilAt: number | null,
  now: number,
): ProcessJudgement {
  const inGraceWindow =
    startedByVigilAt !== null && now - startedByVigilAt <= policy.startupGraceMs;
  const result = (
    verdict: ProcessVerdict,
    reason: string,
    evidence: Record<string, JsonValue>,
    beat: ProcessHeartbeat | null = null,
    isIdentityVerified = false,
  ): ProcessJudgement => {
    const inGrace = verdict !== 'healthy' && verdict !== 'error_status' && inGraceWindow;
    return {
      verdict,
      reason: inGrace ? `${reason} (within the startup grace)` : reason,
      inGrace,
      beat,
      isIdentityVerified,
      evidence: {
        ...evidence,
        ...(inGraceWindow && startedByVigilAt !== null
          ? {
              startedByVigilAt: iso(startedByVigilAt),
              graceEndsAt: iso(startedByVigilAt + policy.startupGraceMs),
            }
          : {}),
        inGrace,
      },
    };
  };

  const { read } = observation;
  if (read.kind === 'missing') return result('no_heartbeat', 'no heartbeat file', {});
  if (read.kind === 'unreadable') {
    return result('no_heartbeat', `heartbeat file unreadable: ${read.error}`, {
      error: read.error,
    });
  }
  const format = policy.format ?? DEFAULT_HEARTBEAT_FORMAT;
  const parsed = parseHeartbeat(read.text, format);
  if (!parsed.ok) {
    return result('no_heartbeat', `heartbeat file unusable: ${parsed.problem}`, {
      problem: parsed.problem,
      content: read.text.slice(0, 200),
    });
  }
  let beat = parsed.beat;
  const beatEvidence: Record<string, JsonValue> = {
    heartbeat: {
      name: beat.name,
      pid: beat.pid,
      startedAt: beat.startedAt === null ? null : iso(beat.startedAt),
      at: iso(beat.at),
      status: beat.status,
      seq: beat.seq,
    },
  };
  if (beat.name !== null && beat.name !== policy.name) {
    return result(
      'no_heartbeat',
      `heartbeat file names process ${JSON.stringify(beat.name)}, expected ${JSON.stringify(policy.name)}`,
      beatEvidence,
    );
  }
  if (beat.at - now > FUTURE_TOLERANCE_MS) {
    return result(
      'no_heartbeat',
      `heartbeat dated ${formatDuration(beat.at - now)} in the future: not proof of life`,
      { ...beatEvidence, aheadMs: beat.at - now },
      beat,
    );
  }
  const { pidStartedAt } = observation;
  if (pidStartedAt === null) {
    return result(
      'stale_pid',
      `pid ${beat.pid} is not running`,
      { ...beatEvidence, pidRunning: false },
      beat,
    );
  }
  if (beat.startedAt === null) {
    // The file does not say when its process started. A process cannot have written a beat
    // before it started, so a pid that started after the beat belongs to another process now.
    if (pidStartedAt - beat.at > IDENTITY_TOLERANCE_MS) {
      return result(
        'stale_pid',
        `pid ${beat.pid} now belongs to another process (started ${iso(pidStartedAt)}, after the heartbeat was written at ${iso(beat.at)})`,
        { ...beatEvidence, pidRunning: true, pidStartedAt: iso(pidStartedAt), startedAtFrom: 'os' },
        beat,
      );
    }
    beat = { ...beat, startedAt: pidStartedAt };
  }
  const beatStartedAt = beat.startedAt ?? pidStartedAt;
  const drift = Math.abs(pidStartedAt - beatStartedAt);
  if (drift > IDENTITY_TOLERANCE_MS) {
    return result(
      'stale_pid',
      `pid ${beat.pid} now belongs to another process (started ${iso(pidStartedAt)}, the heartbeat's process started ${iso(beatStartedAt)})`,
      { ...beatEvidence, pidRunning: true, pidStartedAt: iso(pidStartedAt), driftMs: drift },
      beat,
    );
  }
  const identity = { pidRunning: true, pidStartedAt: iso(pidStartedAt) };
  const age = Math.max(0, now - beat.at);
  if (age > policy.heartbeatMs) {
    return result(
      'timed_out',
      `no heartbeat for ${formatDuration(age)}, limit ${formatDuration(policy.heartbeatMs)}`,
      { ...beatEvidence, ...identity, ageMs: age, limitMs: policy.heartbeatMs },
      beat,
      true,
    );
  }
  if (beat.status !== null && isErrorStatus(beat.status, format.errorStatuses)) {
    return result(
      'error_status',
      `the process reports status ${JSON.stringify(beat.status)}`,
      { ...beatEvidence, ...identity, ageMs: age },
      beat,
      true,
    );
  }
  return result(
    'healthy',
    `beat ${formatDuration(age)} ago`,
    { ...beatEvidence, ...identity, ageMs: age },
    beat,
    true,
  );
}
