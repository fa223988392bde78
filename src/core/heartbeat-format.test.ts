import { describe, expect, it } from 'vitest';
import { S, T0 } from './fixtures.js';
import type { HeartbeatFormat } from './heartbeat-format.js';
import { DEFAULT_HEARTBEAT_FORMAT, parseHeartbeat } from './heartbeat-format.js';
import { judgeProcess } from './process-health.js';

/** The format of a Python writer: {process_key, pid, timestamp, status, iteration}, no start time. */
const PYTHON: HeartbeatFormat = {
  name: 'process_key',
  pid: 'pid',
  at: 'timestamp',
  startedAt: null,
  status: 'status',
  seq: 'iteration',
  time: ['epoch-seconds', 'iso'],
  errorStatuses: ['crashed'],
};
const pythonBeat = (over: Record<string, unknown> = {}) =>
  JSON.stringify({
    process_key: 'worker',
    pid: 4242,
    timestamp: (T0 - 5 * S) / 1_000 + 0.123456,
    status: 'running',
    iteration: 42,
    ...over,
  });
const policy = { name: 'worker', heartbeatMs: 30 * S, startupGraceMs: 0, format: PYTHON };
const judge = (text: string, pidStartedAt: number | null) =>
  judgeProcess({ read: { kind: 'text', text }, pidStartedAt }, policy, null, T0);

describe('parseHeartbeat with a field mapping', () => {
  it('reads the keys the process writes, epoch seconds with a fraction', () => {
    const parsed = parseHeartbeat(pythonBeat(), PYTHON);
    expect(parsed).toEqual({
      ok: true,
      beat: {
        name: 'worker',
        pid: 4242,
        startedAt: null,
        at: T0 - 5 * S + 123,
        status: 'running',
        seq: 42,
      },
    });
  });

  it('takes an ISO time with microseconds when iso is one of the forms', () => {
    const parsed = parseHeartbeat(
      pythonBeat({ timestamp: '2026-01-01T12:00:00.601049+00:00' }),
      PYTHON,
    );
    expect(parsed.ok && parsed.beat.at).toBe(T0 + 601);
  });

  it('reads epoch milliseconds', () => {
    const parsed = parseHeartbeat(pythonBeat({ timestamp: T0 }), {
      ...PYTHON,
      time: ['epoch-millis'],
    });
    expect(parsed.ok && parsed.beat.at).toBe(T0);
  });

  it('names the key and the forms it expected when a field does not fit', () => {
    expect(parseHeartbeat(pythonBeat({ timestamp: 'yesterday' }), PYTHON)).toEqual({
      ok: false,
      problem:
        'timestamp: expected a number of seconds since the epoch or an ISO-8601 time with a timezone (Z or +hh:mm), got "yesterday"',
    });
    expect(
      parseHeartbeat(pythonBeat({ timestamp: 1_767_268_800 }), { ...PYTHON, time: ['iso'] }),
    ).toMatchObject({ ok: false, problem: expect.stringContaining('timestamp: expected an ISO') });
    expect(parseHeartbeat(pythonBeat({ iteration: undefined }), PYTHON)).toMatchObject({
      ok: false,
      problem: 'iteration: expected a non-negative integer, got nothing',
    });
  });

  it('leaves out what the format has none of', () => {
    const parsed = parseHeartbeat(JSON.stringify({ pid: 7, at: '2026-01-01T12:00:00Z' }), {
      ...DEFAULT_HEARTBEAT_FORMAT,
      name: null,
      startedAt: null,
      status: null,
      seq: null,
    });
    expect(parsed).toEqual({
      ok: true,
      beat: { name: null, pid: 7, startedAt: null, at: T0, status: null, seq: null },
    });
  });

  it("keeps Vigil's own format by default", () => {
    expect(parseHeartbeat(pythonBeat())).toMatchObject({
      ok: false,
      problem: expect.stringContaining('name: expected a string, got nothing'),
    });
  });
});

describe('judging a heartbeat without a start time', () => {
  it("is healthy when the pid started before the beat, and takes the OS's start time", () => {
    const j = judge(pythonBeat(), T0 - 60 * S);
    expect(j.verdict).toBe('healthy');
    expect(j.isIdentityVerified).toBe(true);
    expect(j.beat?.startedAt).toBe(T0 - 60 * S);
  });

  it('is stale_pid when the pid is not running', () => {
    expect(judge(pythonBeat(), null).verdict).toBe('stale_pid');
  });

  it('is stale_pid, unverified, when the pid started after the beat: a recycled pid', () => {
    const j = judge(pythonBeat(), T0 - 1 * S);
    expect(j.verdict).toBe('stale_pid');
    expect(j.reason).toContain('now belongs to another process');
    expect(j.isIdentityVerified).toBe(false);
    expect(j.beat?.startedAt).toBeNull();
  });

  it('is timed_out when the beat is older than the limit', () => {
    const old = pythonBeat({ timestamp: (T0 - 31 * S) / 1_000 });
    expect(judge(old, T0 - 60 * S).verdict).toBe('timed_out');
  });

  it('uses the configured error statuses, and only those', () => {
    expect(judge(pythonBeat({ status: 'CRASHED' }), T0 - 60 * S).verdict).toBe('error_status');
    expect(judge(pythonBeat({ status: 'failed' }), T0 - 60 * S).verdict).toBe('healthy');
  });

  it('checks the name the file gives against the configured one', () => {
    const j = judge(pythonBeat({ process_key: 'other' }), T0 - 60 * S);
    expect(j.verdict).toBe('no_heartbeat');
    expect(j.reason).toContain('"other"');
  });
});
