import { describe, expect, it } from 'vitest';
import type { ExecutionJson } from '../web/src/format.js';
import {
  byDeadline,
  duration,
  keepText,
  layoutTimeline,
  relative,
  timeLeft,
} from '../web/src/format.js';
import { parseBlock } from '../web/src/sse.js';

const T = Date.UTC(2026, 0, 1, 12, 0, 0);
const at = (ms: number) => new Date(T + ms).toISOString();

function execution(overrides: Partial<ExecutionJson>): ExecutionJson {
  return {
    id: 'e',
    kind: 'k',
    owner: null,
    status: 'running',
    attempt: 1,
    queuedAt: at(0),
    startedAt: at(0),
    heartbeatAt: null,
    progressAt: null,
    deadlineAt: null,
    limits: { run: null, heartbeat: null, progress: null, queue: null },
    progress: null,
    ...overrides,
  };
}

describe('the dashboard’s formatting', () => {
  it.each([
    [0, '0ms'],
    [85, '85ms'],
    [4_230, '4.2s'],
    [12_000, '12s'],
    [65_000, '1m 5s'],
    [3_600_000, '1h'],
    [3_660_000, '1h 1m'],
    [90_061_000, '1d 1h'],
    [-7_800, '7.8s'],
  ])('duration(%i) is "%s"', (ms, text) => {
    expect(duration(ms)).toBe(text);
  });

  it.each([
    [null, 'forever'],
    [30 * 86_400_000, '30 days'],
    [86_400_000, '1 day'],
    [36 * 3_600_000, '36 hours'],
    [3_600_000, '1 hour'],
    [90 * 60_000, '1h 30m'],
  ])('keeps %s ms as "%s"', (ms, text) => {
    expect(keepText(ms)).toBe(text);
  });

  it('relative times', () => {
    expect(relative(at(-90_000), T)).toBe('1m 30s ago');
    expect(relative(at(12_000), T)).toBe('in 12s');
    expect(relative(at(400), T)).toBe('just now');
    expect(relative(null, T)).toBe('never');
  });

  it('time left names the limit that sets the deadline and how much of it is used', () => {
    const beating = execution({
      heartbeatAt: at(50_000),
      deadlineAt: at(80_000),
      limits: { run: 600_000, heartbeat: 30_000, progress: null, queue: null },
    });
    expect(timeLeft(beating, T + 65_000)).toEqual({
      text: '15s left',
      ms: 15_000,
      urgency: 'ok',
      limit: 'heartbeat',
      used: 0.5,
    });
    // Under a fifth of the limit left is "soon"; past the deadline is "overdue".
    expect(timeLeft(beating, T + 75_000).urgency).toBe('soon');
    expect(timeLeft(beating, T + 83_000)).toMatchObject({
      text: 'overdue by 3s',
      urgency: 'overdue',
      used: 1,
    });

    const running = execution({
      heartbeatAt: at(590_000),
      deadlineAt: at(600_000),
      limits: { run: 600_000, heartbeat: 60_000, progress: null, queue: null },
    });
    expect(timeLeft(running, T + 300_000)).toMatchObject({ limit: 'run', used: 0.5 });

    const queued = execution({
      status: 'queued',
      startedAt: null,
      deadlineAt: at(300_000),
      limits: { run: 900_000, heartbeat: null, progress: null, queue: 300_000 },
    });
    expect(timeLeft(queued, T + 60_000)).toMatchObject({ limit: 'queue', text: '4m left' });
    expect(timeLeft(execution({}), T)).toMatchObject({ text: 'no deadline', urgency: 'none' });
  });

  it('sorts open executions by deadline, those without one last', () => {
    const items = [
      execution({ id: 'none' }),
      execution({ id: 'late', deadlineAt: at(90_000) }),
      execution({ id: 'b-soon', deadlineAt: at(10_000) }),
      execution({ id: 'a-soon', deadlineAt: at(10_000) }),
    ];
    expect(byDeadline(items).map((e) => e.id)).toEqual(['a-soon', 'b-soon', 'late', 'none']);
  });

  it('lays out stacked bars on a round scale', () => {
    const layout = layoutTimeline(
      [
        { start: at(0), counts: {} },
        { start: at(1_800_000), counts: { heartbeat_lost: 3, run_timeout: 4 } },
        { start: at(3_600_000), counts: { orphaned: 2 } },
      ],
      ['heartbeat_lost', 'run_timeout', 'orphaned'],
      300,
      100,
      2,
    );
    expect(layout.max).toBe(10);
    expect(layout.ticks.map((t) => t.value)).toEqual([0, 2, 4, 6, 8, 10]);
    expect(layout.bars.map((b) => b.total)).toEqual([0, 7, 2]);
    const [lost, timeout] = layout.bars[1]!.segments;
    expect(lost).toMatchObject({ verdict: 'heartbeat_lost', count: 3, y: 70, height: 30 });
    expect(timeout).toMatchObject({ verdict: 'run_timeout', count: 4, y: 30, height: 40 });
    expect(layout.bars[1]!.x).toBeCloseTo(102);
    expect(layout.labelled).toEqual([0, 2]);
  });

  it('parses event-stream blocks and skips keepalives', () => {
    expect(
      parseBlock(
        'event: execution:remediated\ndata: {"type":"execution:remediated","executionId":"a"}',
      ),
    ).toEqual({
      type: 'execution:remediated',
      data: { type: 'execution:remediated', executionId: 'a' },
    });
    expect(parseBlock(': keepalive')).toBeNull();
    expect(parseBlock('event: x\ndata: {not json')).toBeNull();
  });
});
