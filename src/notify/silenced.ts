/**
 * Which notifications a silence mutes: an event is matched like the decision it tells about, by
 * its source, kind, owner and verdict. A muted event never reaches the outbox; the decision it
 * tells about is in the audit all the same.
 */
import type { GateTarget, GateView, Silence } from '../core/silence.js';
import { muteOf } from '../core/silence.js';
import type { VigilEvent } from '../ports/events.js';

/** What is known of an execution's kind and owner when its event does not carry them. */
export type ExecutionLookup = (
  executionId: string,
) => Promise<{ kind: string; owner: string | null } | undefined>;

const text = (value: unknown): string | undefined =>
  typeof value === 'string' && value !== '' ? value : undefined;

/** The source an event is about, in the words of a silence's `source` matcher. */
export function sourceOf(event: VigilEvent): string {
  const fields = event as unknown as Record<string, unknown>;
  const source = text(fields.source);
  if (source !== undefined)
    return 'operationId' in fields ? `operations:${source}` : `table:${source}`;
  if (event.type.startsWith('process:')) return `process:${text(fields.name) ?? ''}`;
  if (event.type.startsWith('probe:')) return `probe:${text(fields.probe) ?? ''}`;
  if (event.type === 'sweep:completed') return 'sweep';
  return 'ledger';
}

/**
 * The silence that mutes this event, if any. A sweep's completion is never muted: it releases the
 * digests the sweep held back.
 */
export async function silenceOf(
  event: VigilEvent,
  view: GateView,
  now: number,
  lookup: ExecutionLookup | undefined,
): Promise<Silence | null> {
  if (view.silences.length === 0 || event.type === 'sweep:completed') return null;
  const fields = event as unknown as Record<string, unknown>;
  const target: GateTarget = {
    source: sourceOf(event),
    kind: text(fields.kind),
    owner: text(fields.owner),
    verdict: text(fields.verdict),
  };
  const id = text(fields.executionId);
  if (target.source === 'ledger' && id !== undefined && lookup) {
    if (target.kind === undefined || target.owner === undefined) {
      const known = await lookup(id);
      target.kind ??= known?.kind;
      target.owner ??= known?.owner;
    }
  }
  return muteOf(view, target, now);
}
