import type { Execution } from './types.js';

/** A workflow run's state as its children show it. */
export type ChildrenState =
  | { kind: 'none' }
  | { kind: 'failed'; child: Pick<Execution, 'id' | 'status' | 'reason'> }
  | { kind: 'succeeded'; count: number }
  | { kind: 'running'; running: number; pending: number }
  | { kind: 'stalled'; pending: number };

/**
 * Derives a parent's state from its children. A parent is never `succeeded` while a child failed,
 * died, was cancelled or is still pending: only when every child succeeded.
 */
export function deriveFromChildren(
  children: readonly Pick<Execution, 'id' | 'status' | 'reason'>[],
): ChildrenState {
  if (children.length === 0) return { kind: 'none' };
  const failed = children.find(
    (child) => child.status === 'failed' || child.status === 'dead' || child.status === 'cancelled',
  );
  if (failed) return { kind: 'failed', child: failed };
  const running = children.filter((child) => child.status === 'running').length;
  const pending = children.filter((child) => child.status === 'queued').length + running;
  if (pending === 0) return { kind: 'succeeded', count: children.length };
  if (running > 0) return { kind: 'running', running, pending };
  return { kind: 'stalled', pending };
}

export function describeChildFailure(child: Pick<Execution, 'id' | 'status' | 'reason'>): string {
  return `child ${child.id} ${child.status}${child.reason ? `: ${child.reason}` : ''}`;
}
