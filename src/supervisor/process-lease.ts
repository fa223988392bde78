import type { Clock } from '../ports.js';
import type { LeaseStore } from '../ports/lease-store.js';
import type { ProcessConfig } from './config.js';
import { leaseTtl } from './process-state.js';

/**
 * Takes the process's lease, waiting up to `waitMs` (real time) for another holder. The lease
 * outlives the longest pipeline the configuration allows, so a holder that dies mid-recovery
 * blocks the others for at most that long, and a live one never loses it mid-step.
 */
export async function takeProcessLease(
  { store, clock }: { store: LeaseStore; clock: Clock },
  holder: string,
  config: ProcessConfig,
  waitMs: number,
): Promise<{ renew: () => Promise<void>; release: () => Promise<void> } | null> {
  const name = `process:${config.name}`;
  const ttl = leaseTtl(config);
  const deadline = Date.now() + waitMs;
  while (!(await store.acquireLease(name, holder, clock.now(), ttl))) {
    if (Date.now() >= deadline) return null;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    renew: async () => {
      await store.acquireLease(name, holder, clock.now(), ttl);
    },
    release: () => store.releaseLease(name, holder),
  };
}
