import { describe, expect, it } from 'vitest';
import type { Execution } from '../core/types.js';
import type { NewExecution } from '../ports/ledger-store.js';
import { RegistrationBatcher } from './registration-batcher.js';

const input = (id: string): NewExecution => ({
  id,
  kind: 'k',
  owner: null,
  parentId: null,
  status: 'running',
  limits: { run: null, heartbeat: null, progress: null, queue: null },
  metadata: {},
});

/**
 * A store that fails any write holding a row with a bad id (as PostgreSQL fails a whole multi-row
 * INSERT for one value it refuses), and records what each write held.
 */
function failingOn(bad: string) {
  const writes: string[][] = [];
  const batcher = new RegistrationBatcher((executions) => {
    writes.push(executions.map((e) => e.id));
    if (executions.some((e) => e.id === bad)) return Promise.reject(new Error(`refused ${bad}`));
    return Promise.resolve(executions.map((e) => ({ id: e.id }) as Execution));
  });
  return { batcher, writes };
}

describe('RegistrationBatcher', () => {
  it('one row the store refuses fails only its own caller: the group is written again one by one', async () => {
    const { batcher, writes } = failingOn('bad');
    const answers = await Promise.allSettled(
      ['a', 'bad', 'c'].map((id) => batcher.register(input(id))),
    );
    expect(answers.map((a) => a.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((answers[1] as PromiseRejectedResult).reason).toMatchObject({ message: 'refused bad' });
    expect(writes).toEqual([['a', 'bad', 'c'], ['a'], ['bad'], ['c']]);
  });

  it('a group the store writes is one write, each caller answered with its own row', async () => {
    const { batcher, writes } = failingOn('none');
    const answers = await Promise.all(['a', 'b'].map((id) => batcher.register(input(id))));
    expect(answers.map((e) => e.id)).toEqual(['a', 'b']);
    expect(writes).toEqual([['a', 'b']]);
  });
});
