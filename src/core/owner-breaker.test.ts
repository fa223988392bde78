import { describe, expect, it } from 'vitest';
import { breakerVerdict, countUnknown } from './owner-breaker.js';

const rule = { maxOrphanShare: 0.5, minRunning: 5 };

describe('breakerVerdict', () => {
  const cases: [string, { running: number; wouldOrphan: number; listed: number }, boolean][] = [
    ['empty registry, 10 running', { running: 10, wouldOrphan: 0, listed: 0 }, true],
    ['empty registry, exactly the minimum', { running: 5, wouldOrphan: 5, listed: 0 }, true],
    ['empty registry, below the minimum', { running: 4, wouldOrphan: 4, listed: 0 }, false],
    ['exactly half orphaned is allowed', { running: 10, wouldOrphan: 5, listed: 5 }, false],
    ['more than half orphaned', { running: 10, wouldOrphan: 6, listed: 4 }, true],
    ['one orphan of a small owner', { running: 1, wouldOrphan: 1, listed: 3 }, false],
    ['nothing orphaned', { running: 50, wouldOrphan: 0, listed: 50 }, false],
  ];
  it.each(cases)('%s', (_name, counts, trips) => {
    expect(breakerVerdict(counts, rule).trips).toBe(trips);
  });

  it('says why', () => {
    expect(breakerVerdict({ running: 8, wouldOrphan: 5, listed: 3 }, rule)).toEqual({
      trips: true,
      reason: '5 of its 8 running executions would be orphaned at once (more than 50%)',
    });
  });
});

describe('countUnknown', () => {
  it('announces once per episode, on the sweep that reaches the threshold', () => {
    let count = { consecutiveUnknown: 0, announced: false };
    const announced: boolean[] = [];
    for (const reachable of [false, false, false, false, true, false, false, false]) {
      const next = countUnknown(count, reachable, 3);
      announced.push(next.announce);
      count = next;
    }
    expect(announced).toEqual([false, false, true, false, false, false, false, true]);
    expect(count).toMatchObject({ consecutiveUnknown: 3, announced: true });
  });
});
