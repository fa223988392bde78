import { describe, expect, it } from 'vitest';
import type { Beat, HeartbeatResult } from '../ports/ledger-store.js';
import { HeartbeatBatcher, type HeartbeatBatcherOptions } from './heartbeat-batcher.js';

const show = (b: Beat) => `${b.id}#${b.attempt}${b.progress === undefined ? '' : `:${b.progress}`}`;

function recorder(
  answer: (beats: Beat[]) => HeartbeatResult | Error,
  options: HeartbeatBatcherOptions = { maxBatch: 3 },
) {
  const batches: string[][] = [];
  const batcher = new HeartbeatBatcher((beats) => {
    batches.push(beats.map(show));
    const result = answer(beats);
    return result instanceof Error ? Promise.reject(result) : Promise.resolve(result);
  }, options);
  return { batcher, batches };
}

/** A store whose writes answer only when the test says so. */
function gated(options: HeartbeatBatcherOptions) {
  const writes: { beats: string[]; answer: () => void }[] = [];
  const batcher = new HeartbeatBatcher(
    (beats) =>
      new Promise<HeartbeatResult>((resolve) => {
        writes.push({ beats: beats.map(show), answer: () => resolve(allOk(beats)) });
      }),
    options,
  );
  return { batcher, writes };
}

const allOk = (beats: Beat[]): HeartbeatResult => ({
  ok: beats.map((b) => ({ id: b.id, deadlineAt: 1_000 + b.attempt })),
  lost: [],
});

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

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

  it('writes beats of the same id and attempt once, with the last progress sent, and answers each', async () => {
    const { batcher, batches } = recorder(allOk);
    const answers = await Promise.all([
      batcher.beat({ id: 'a', attempt: 1, progress: 'p1' }),
      batcher.beat({ id: 'a', attempt: 1 }),
      batcher.beat({ id: 'a', attempt: 1, progress: 'p2' }),
      batcher.beat({ id: 'a', attempt: 1 }),
    ]);
    expect(batches).toEqual([['a#1:p2']]);
    expect(answers).toEqual(Array(4).fill({ kind: 'ok', deadlineAt: 1_001 }));
  });

  it('writes a beat of another attempt of a waiting id after it, and keeps that id in order', async () => {
    const { batcher, batches } = recorder(allOk);
    await Promise.all([
      batcher.beat({ id: 'a', attempt: 1 }),
      batcher.beat({ id: 'a', attempt: 2 }),
      batcher.beat({ id: 'a', attempt: 1 }),
      batcher.beat({ id: 'b', attempt: 1 }),
    ]);
    expect(batches).toEqual([['a#1', 'b#1'], ['a#2'], ['a#1']]);
  });

  it('caps the ids of one write', async () => {
    const { batcher, batches } = recorder(allOk);
    await Promise.all(['a', 'b', 'c', 'd', 'e'].map((id) => batcher.beat({ id, attempt: 1 })));
    expect(batches).toEqual([
      ['a#1', 'b#1', 'c#1'],
      ['d#1', 'e#1'],
    ]);
  });

  it('groups what arrives while the writes are in flight into the next write, never sharing an id with one in flight', async () => {
    const { batcher, writes } = gated({ maxInFlight: 2 });
    const first = batcher.beatMany([
      { id: 'a', attempt: 1 },
      { id: 'b', attempt: 1 },
    ]);
    await tick();
    const second = batcher.beatMany([
      { id: 'b', attempt: 1 },
      { id: 'c', attempt: 1 },
    ]);
    await tick();
    // b is in flight in the first write: the second write takes c alone, b waits for it.
    expect(writes.map((w) => w.beats)).toEqual([['a#1', 'b#1'], ['c#1']]);
    const third = batcher.beatMany([
      { id: 'a', attempt: 1 },
      { id: 'd', attempt: 1 },
    ]);
    const fourth = batcher.beat({ id: 'd', attempt: 1 });
    await tick();
    expect(writes).toHaveLength(2);
    writes[0]!.answer();
    await first;
    expect(writes.map((w) => w.beats)).toEqual([['a#1', 'b#1'], ['c#1'], ['d#1', 'a#1', 'b#1']]);
    writes[1]!.answer();
    writes[2]!.answer();
    expect(await second).toEqual({
      ok: [
        { id: 'b', deadlineAt: 1_001 },
        { id: 'c', deadlineAt: 1_001 },
      ],
      lost: [],
    });
    expect((await third).ok.map((b) => b.id)).toEqual(['a', 'd']);
    expect(await fourth).toEqual({ kind: 'ok', deadlineAt: 1_001 });
  });

  it('answers a batch in its order, lost beats apart', async () => {
    const { batcher } = recorder((beats) => ({
      ok: beats.filter((b) => b.id !== 'gone').map((b) => ({ id: b.id, deadlineAt: 7 })),
      lost: [{ id: 'gone', status: null, reason: 'no such execution' }],
    }));
    expect(
      await batcher.beatMany([
        { id: 'z', attempt: 1 },
        { id: 'gone', attempt: 1 },
        { id: 'y', attempt: 1 },
        { id: 'x', attempt: 1 },
      ]),
    ).toEqual({
      ok: [
        { id: 'z', deadlineAt: 7 },
        { id: 'y', deadlineAt: 7 },
        { id: 'x', deadlineAt: 7 },
      ],
      lost: [{ id: 'gone', status: null, reason: 'no such execution' }],
    });
  });

  it('a failed write rejects every beat of its batch', async () => {
    const { batcher } = recorder(() => new Error('database is locked'));
    const answers = await Promise.allSettled([
      batcher.beat({ id: 'a', attempt: 1 }),
      batcher.beat({ id: 'b', attempt: 1 }),
      batcher.beatMany([{ id: 'a', attempt: 1 }]),
    ]);
    expect(answers.map((a) => a.status)).toEqual(['rejected', 'rejected', 'rejected']);
  });
});
