import type { Config } from '../config.js';
import type { ExecutionStore } from '../ports/execution-store.js';
import type { SlotStore } from '../ports/slot-store.js';

/** Slots in Redis when `VIGIL_REDIS_URL` (or `redis.url`) is set, else in the store's own table. */
export async function openSlotStore(config: Config, store: ExecutionStore): Promise<SlotStore> {
  if (config.redis.url === null) return store.localSlots();
  // The Redis client is loaded only where Redis is configured.
  const { openRedisSlotStore } = await import('../stores/redis-slots.js');
  return openRedisSlotStore(config.redis.url, { keyPrefix: config.redis.keyPrefix });
}
