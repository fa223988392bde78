import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SlotStore } from '../src/ports/slot-store.js';
import { openRedisSlotStore } from '../src/stores/redis-slots.js';
import { REDIS_URL, dropRedisKeys, redisAvailable } from './helpers.js';

/**
 * A sweep on SQLite writes a page in one synchronous transaction: while it runs, the event loop
 * reads no socket. A Redis answer that arrived meanwhile must count as an answer, not as a
 * command that timed out (which would leave the page's slots held and mark Redis down).
 */

/** Blocks this thread (and its event loop), as a long synchronous write does. */
const blockLoop = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

describe.skipIf(!(await redisAvailable()))('Redis slots while the event loop is busy', () => {
  const prefix = `vigil-test:${randomUUID()}:`;
  let slots: SlotStore;

  beforeEach(async () => {
    slots = await openRedisSlotStore(REDIS_URL, { keyPrefix: prefix, commandTimeoutMs: 100 });
  });
  afterEach(async () => {
    await slots.close();
    await dropRedisKeys(prefix);
  });

  it('an answer waiting in the socket when the timer fires is taken, and Redis stays up', async () => {
    for (const s of ['a', 'b']) await slots.acquire(s, `1:${s}`, null, 0);
    const releasing = slots.releaseMany!(
      [
        { slot: 'a', holder: '1:a' },
        { slot: 'b', holder: '1:other' },
        { slot: 'c', holder: '1:c' },
      ],
      0,
    );
    // The command goes out; then the loop is held well past the timeout (100 ms) while Redis
    // answers: 3 s leaves a loopback Redis time to answer even on a busy machine.
    await new Promise((resolve) => setImmediate(resolve));
    blockLoop(3_000);
    expect(await releasing).toEqual(['released', 'not_held', 'already_free']);
    expect(slots.status?.().up).toBe(true);
    expect(await slots.holderOf('b', 0)).toBe('1:b');
  });
});
