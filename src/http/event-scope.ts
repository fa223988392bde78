/**
 * What a runner token sees on `GET /v1/events`: events about its owner's executions, nothing else.
 * An execution event names an execution id, not its owner, so the owner is looked up in the store
 * (and remembered: an execution's owner is fixed when it is registered). Rows of mapped tables,
 * operations, processes, probes, owners' breakers and sweep reports are not an owner's executions.
 */
import type { VigilEvent } from '../ports/events.js';
import type { ReadStore } from '../ports/read-store.js';

/** Owners remembered per stream; beyond this the oldest are forgotten and looked up again. */
const REMEMBERED_OWNERS = 10_000;

export type EventFilter = (event: VigilEvent) => Promise<boolean>;

export function ownerScope(owner: string, store: Pick<ReadStore, 'ownersOf'>): EventFilter {
  const owners = new Map<string, string | null>();
  return async (event) => {
    if (!event.type.startsWith('execution:')) return false;
    if (!('executionId' in event) || ('source' in event && event.source !== undefined)) {
      return false;
    }
    const id = event.executionId;
    if (!owners.has(id)) {
      const found = await store.ownersOf([id]);
      const oldest = owners.keys().next();
      if (owners.size >= REMEMBERED_OWNERS && !oldest.done) owners.delete(oldest.value);
      owners.set(id, found.get(id) ?? null);
    }
    return owners.get(id) === owner;
  };
}
