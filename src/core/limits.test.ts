import { describe, expect, it } from 'vitest';
import { M, S, T0 } from './fixtures.js';
import { DEFAULT_LIMITS, deadlineOf, resolveLimits } from './limits.js';

describe('resolveLimits: execution → kind → owner → default', () => {
  it.each([
    [
      "the execution's own",
      {
        execution: { run: 1 * M },
        kind: { run: 2 * M },
        owner: { run: 3 * M },
        defaults: { run: 4 * M },
      },
      1 * M,
      'execution',
    ],
    [
      "its kind's",
      { kind: { run: 2 * M }, owner: { run: 3 * M }, defaults: { run: 4 * M } },
      2 * M,
      'kind',
    ],
    ["its owner's", { owner: { run: 3 * M }, defaults: { run: 4 * M } }, 3 * M, 'owner'],
    ['the configured default', { defaults: { run: 4 * M } }, 4 * M, 'default'],
    ['the built-in default (15m)', {}, 15 * M, 'default'],
    [
      'null at a level means "no limit" and stops the chain',
      { kind: { run: null }, defaults: { run: 4 * M } },
      null,
      'kind',
    ],
  ] as const)('%s wins', (_name, chain, run, source) => {
    const { limits, sources } = resolveLimits(chain);
    expect(limits.run).toBe(run);
    expect(sources.run).toBe(source);
  });

  it('resolves each limit on its own', () => {
    const { limits } = resolveLimits({
      execution: { heartbeat: 30 * S },
      kind: { progress: 5 * M },
      owner: { queue: M },
    });
    expect(limits).toEqual({ run: 15 * M, heartbeat: 30 * S, progress: 5 * M, queue: M });
  });

  it('has no heartbeat, progress or queue limit unless one is set', () => {
    expect(DEFAULT_LIMITS).toEqual({ run: 15 * M, heartbeat: null, progress: null, queue: null });
  });
});

describe('deadlineOf', () => {
  const base = { queuedAt: T0, startedAt: T0, heartbeatAt: null, progressAt: null };
  const limits = { run: 15 * M, heartbeat: 2 * M, progress: 10 * M, queue: 5 * M };
  it.each([
    [
      'running: the earliest of run, heartbeat and progress',
      { ...base, status: 'running' as const, limits },
      T0 + 2 * M,
    ],
    [
      'running: a recent heartbeat moves it',
      { ...base, status: 'running' as const, limits, heartbeatAt: T0 + 9 * M },
      T0 + 10 * M,
    ],
    [
      'queued: the queue limit',
      { ...base, status: 'queued' as const, startedAt: null, limits },
      T0 + 5 * M,
    ],
    [
      'queued without a queue limit: none',
      { ...base, status: 'queued' as const, startedAt: null, limits: { ...limits, queue: null } },
      null,
    ],
    ['ended: none', { ...base, status: 'failed' as const, limits }, null],
  ])('%s', (_name, execution, deadline) => {
    expect(deadlineOf(execution)).toBe(deadline);
  });
});
