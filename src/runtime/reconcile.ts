/**
 * The ledger's phases after its overdue pages: reconciling running executions with their owners'
 * registries, and workflow runs, judged once their children have been.
 */
import { decideParentAfterChild } from '../core/decide.js';
import type { Execution } from '../core/types.js';
import { isOpen } from '../core/types.js';
import type { OwnerAgents } from '../ports/owner-agents.js';
import { agentFor } from '../ports/owner-agents.js';
import type { SweepContext } from '../ports/source.js';
import type { LedgerItem, LedgerPass } from './ledger-pass.js';
import type { Pipeline } from './pipeline.js';
import type { SlotReleases } from './slot-releases.js';

/** What each phase runs on. */
export interface LedgerPhase {
  pipeline: Pipeline;
  pass: LedgerPass;
  slots: SlotReleases;
  context: SweepContext;
}

/** Overdue workflow runs, each judged on its children as this sweep left them. */
export async function judgeParents(
  phase: LedgerPhase,
  parents: readonly Execution[],
): Promise<void> {
  const { pipeline, pass, slots, context } = phase;
  for (const parent of parents) {
    const observe = await pass.owners.observe([parent], context.now);
    const item = {
      execution: parent,
      observation: observe(parent),
      children: await pass.childrenOf(parent.id),
    };
    slots.noteEnded(await pipeline.page(pass.stage('guarded'), [item], context));
  }
}

/**
 * Asks each owner with a registry about every execution Vigil has running on it, not only the
 * overdue ones: an execution without a heartbeat limit would otherwise stay `running` long after
 * its owner lost it, until its run limit (or forever). Only orphans are acted on here; limits
 * stay the deadline index's business. Costs one registry request per owner per page of running
 * executions, once per reconcile interval.
 */
export async function reconcile(phase: LedgerPhase, seen: ReadonlySet<string>): Promise<void> {
  const { pipeline, pass, slots, context } = phase;
  const { store, config } = pass.options;
  const owners = registryOwners(config.ownerAgents);
  let after: { createdAt: number; id: string } | undefined;
  for (;;) {
    const page = await store.listRunningOwned(owners, config.sweep.batchSize, after);
    const last = page.at(-1);
    if (last === undefined) return;
    after = { createdAt: last.createdAt, id: last.id };
    const parents = await store.withChildren(page.map((e) => e.id));
    const fresh = page.filter(
      (e) =>
        !seen.has(e.id) &&
        !parents.has(e.id) &&
        agentFor(config.ownerAgents, e.owner)?.registry != null,
    );
    if (fresh.length > 0) {
      const observe = await pass.owners.observe(fresh, context.now);
      const items: LedgerItem[] = fresh.map((e) => ({ execution: e, observation: observe(e) }));
      slots.noteEnded(await pipeline.page(pass.stage('reconciled'), items, context));
    }
    if (page.length < config.sweep.batchSize) return;
  }
}

/** The owners to reconcile: null for every owner (a `*` registry), else those named with one. */
function registryOwners(agents: OwnerAgents): string[] | null {
  if (agents.any?.registry) return null;
  return Object.entries(agents.named)
    .filter(([, spec]) => spec.registry !== null)
    .map(([name]) => name);
}

/** Ends the workflow runs whose children this sweep ended for good, when a child failed. */
export async function deriveTouchedParents(phase: LedgerPhase): Promise<void> {
  const { pipeline, pass, slots, context } = phase;
  const seen = new Set<string>();
  for (const parentId of drain(pass.touchedParents)) {
    if (seen.has(parentId)) continue;
    seen.add(parentId);
    const parent = pass.projected.get(parentId) ?? (await pass.options.store.get(parentId));
    if (!parent || !isOpen(parent.status)) continue;
    const children = await pass.childrenOf(parent.id);
    const endedChild = children.find(
      (child) =>
        pass.projected.has(child.id) && !isOpen(child.status) && child.status !== 'succeeded',
    );
    const verdict = endedChild?.verdict;
    if (!verdict) continue;
    const decided = decideParentAfterChild(parent, children, { verdict });
    if (!decided) continue;
    const item = { execution: parent, decided };
    slots.noteEnded(await pipeline.page(pass.stage('derived'), [item], context));
  }
}

/** Takes entries out of a set until it is empty, including those added meanwhile. */
function* drain<T>(set: Set<T>): Generator<T> {
  for (;;) {
    const [next] = set;
    if (next === undefined) return;
    set.delete(next);
    yield next;
  }
}
