import { describe, expect, it } from 'vitest';
import { checkSilence } from './silence-input.js';
import type { GateView, Silence } from './silence.js';
import { holdOf, matches, muteOf, parseMatchers } from './silence.js';

const T0 = 1_767_268_800_000; // 2026-01-01T12:00:00Z
const M = 60_000;

function silence(id: string, more: Partial<Silence> = {}): Silence {
  return {
    id,
    matchers: { kind: ['backup'] },
    startsAt: T0,
    endsAt: T0 + 60 * M,
    createdBy: 'ops',
    comment: '',
    maintenance: true,
    createdAt: T0,
    expiredAt: null,
    origin: 'store',
    ...more,
  };
}

describe('matches', () => {
  it.each([
    [{ kind: ['backup'] }, { source: 'ledger', kind: 'backup' }, true],
    [{ kind: ['a', 'backup'] }, { source: 'ledger', kind: 'backup' }, true],
    [{ kind: ['backup'], owner: ['w1'] }, { source: 'ledger', kind: 'backup', owner: 'w2' }, false],
    [{ kind: ['backup'] }, { source: 'process:web' }, false],
    [{ owner: ['w1'] }, { source: 'ledger', kind: 'x', owner: null }, false],
    [
      { source: ['table:t'], verdict: ['run_timeout'] },
      { source: 'table:t', verdict: 'run_timeout' },
      true,
    ],
  ])('%j on %j → %s', (matchers, target, expected) => {
    expect(matches(matchers, target)).toBe(expected);
  });
});

describe('holdOf and muteOf', () => {
  const target = { source: 'ledger', kind: 'backup', verdict: 'run_timeout' };

  it('holds only inside a maintenance window, strictly before its end', () => {
    const view: GateView = { paused: null, silences: [silence('w')] };
    expect(holdOf(view, target, T0 - 1)).toBeNull();
    expect(holdOf(view, target, T0)).toMatchObject({ kind: 'maintenance', until: T0 + 60 * M });
    expect(holdOf(view, target, T0 + 60 * M - 1)).not.toBeNull();
    expect(holdOf(view, target, T0 + 60 * M)).toBeNull();
  });

  it('a plain silence mutes but never holds; the pause holds everything and mutes nothing', () => {
    const quiet: GateView = { paused: null, silences: [silence('s', { maintenance: false })] };
    expect(holdOf(quiet, target, T0)).toBeNull();
    expect(muteOf(quiet, target, T0)?.id).toBe('s');
    const paused: GateView = { paused: { since: T0, by: 'a', comment: '' }, silences: [] };
    expect(holdOf(paused, { source: 'slots' }, T0)).toMatchObject({ kind: 'paused', until: null });
    expect(muteOf(paused, target, T0)).toBeNull();
  });

  it('of two windows, the one that ends last holds', () => {
    const view: GateView = {
      paused: null,
      silences: [
        silence('short', { endsAt: T0 + M }),
        silence('long'),
        silence('mid', { endsAt: T0 + 2 * M }),
      ],
    };
    expect(holdOf(view, target, T0)).toMatchObject({ silence: { id: 'long' } });
  });
});

describe('parsing', () => {
  it('reads --match pairs, lists and repeats', () => {
    expect(parseMatchers(['kind=a,b', 'owner=w', 'kind=c'])).toEqual({
      kind: ['a', 'b', 'c'],
      owner: ['w'],
    });
    expect(() => parseMatchers(['colour=red'])).toThrow(/expected a matcher like kind=backup/);
    expect(() => parseMatchers(['kind='])).toThrow(/got "kind="/);
  });

  it('checks a body: duration or endsAt, a start default of now, every problem named', () => {
    const ok = checkSilence(
      { matchers: { kind: 'x' }, duration: '30m', createdBy: 'a', comment: 'b' },
      T0,
    );
    expect(ok).toEqual({
      ok: true,
      value: {
        matchers: { kind: ['x'] },
        startsAt: T0,
        endsAt: T0 + 30 * M,
        createdBy: 'a',
        comment: 'b',
        maintenance: false,
      },
    });
    const bad = checkSilence(
      { matchers: {}, endsAt: 'tomorrow', duration: '1h', maintenance: 'yes' },
      T0,
    );
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.errors).toEqual([
      'matchers: expected at least one of kind, owner, source, verdict (to hold everything, pause), got {}',
      'duration: expected endsAt or duration, not both, got both',
      'createdBy: expected a non-empty string, got nothing',
      'comment: expected a non-empty string, got nothing',
      'maintenance: expected true or false, got "yes"',
    ]);
  });
});
