import { describe, expect, it } from 'vitest';
import type { Beat, HeartbeatResult } from '../ports/ledger-store.js';
import { HeartbeatBatcher } from './heartbeat-batcher.js';

function recorder(answer: (beats: Beat[]) => HeartbeatResult | Error) {
  const batches: string[][] = [];
  const batcher = new HeartbeatBatcher((beats) => {
    batches.push(beats.map((b) => `${b.id}#${b.attempt}`));
    const result = answer(beats);
    return result instanceof Error ? Promise.reject(result) : Promise.resolve(result);
  }, 3);
  return { batcher, batches };
}

const allOk = (beats: Beat[]): HeartbeatResult => ({
  ok: beats.map((b) => ({ id: b.id, deadlineAt: 1_000 })),
  lost: [],
});

describe('HeartbeatBatcher', () => {
  it('writes the beats of one tick in one batch and answers each caller', async () => {
    const { batcher, batches } = recorder((beats) => ({
      ok: beats.filter((b) => b.id !== 'gone').map((b) => ({ id: b.id, deadlineAt: 5 })),
      lost: [{ id: 'gone', status: 'failed', reason: 'no heartbeat for 2s, limit 2s' }],
    }));
    const answers = await Promise.all([
      batcher.beat({ id: 'a', attempt: 1 }),
      batcher.beat({ id: 'gone', attempt: 1 }),
    ]);
    expect(batches).toEqual([['a#1', 'gone#1']]);
    expect(answers).toEqual([
      { kind: 'ok', deadlineAt: 5 },
      {
        kind: 'lost',
        lost: { id: 'gone', status: 'failed', reason: 'no heartbeat for 2s, limit 2s' },
      },
    ]);
  });

  it('never puts one id twice in a batch, and caps the batch size', async () => {
    const { batcher, batches } = recorder(allOk);
    await Promise.all(
      ['a', 'b', 'a', 'c', 'd', 'e', 'f'].map((id, i) => batcher.beat({ id, attempt: i })),
    );
    expect(batches).toEqual([
      ['a#0', 'b#1'],
      ['a#2', 'c#3', 'd#4'],
      ['e#5', 'f#6'],
    ]);
  });

  it('a failed write rejects every beat of its batch', async () => {
    const { batcher } = recorder(() => new Error('database is locked'));
    const answers = await Promise.allSettled([
      batcher.beat({ id: 'a', attempt: 1 }),
      batcher.beat({ id: 'b', attempt: 1 }),
    ]);
    expect(answers.map((a) => a.status)).toEqual(['rejected', 'rejected']);
  });
});
