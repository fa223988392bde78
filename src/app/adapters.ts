import type { Config } from '../config.js';
import { httpOwners } from '../owners/http-owners.js';
import type { ExecutionStore } from '../ports/execution-store.js';
import type { OwnerClient } from '../ports/owner-client.js';
import type { SlotStore } from '../ports/slot-store.js';
import { openSlotStore } from './slots.js';

/** The adapters `vigil serve` talks to the outside world through, besides the store. */
export interface Adapters {
  slots: SlotStore;
  /** Undefined when no owner has a registry or a stop endpoint (`owners:`). */
  owners: OwnerClient | undefined;
  close: () => Promise<void>;
}

/** Opens the slot store (Redis, or the store's own table) and the owners' HTTP client. */
export async function openAdapters(config: Config, store: ExecutionStore): Promise<Adapters> {
  const slots = await openSlotStore(config, store);
  return { slots, owners: httpOwners(config.ownerAgents), close: () => slots.close() };
}
