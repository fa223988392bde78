import type { Config } from '../config.js';
import type { ExecutionStore } from '../ports/execution-store.js';
import type { SlotStore } from '../ports/slot-store.js';
import { openRedisSlotStore } from '../stores/redis-slots.js';

/** Slots in Redis when `VIGIL_REDIS_URL` (or `redis.url`) is set, else in the store's own table. */
export async function openSlotStore(config: Config, store: ExecutionStore): Promise<SlotStore> {
  if (config.redis.url === null) return store.localSlots();
  return openRedisSlotStore(config.redis.url, { keyPrefix: config.redis.keyPrefix });
}
