import type { Decision } from '../core/decide.js';
import type { Execution } from '../core/types.js';
import { subjectOf } from './pipeline.js';

/**
 * What a ledger decision would destroy, as maintenance windows match it: every end (with or
 * without a stop request, a retry, a dead letter, a workflow run derived from its children); in
 * a reconciling pass only the orphans it ends.
 */
export function destructive(
  item: { execution: Execution },
  decision: Decision,
  mode: 'guarded' | 'reconciled' | 'derived',
) {
  if (decision.action.kind === 'ignore') return null;
  if (mode === 'reconciled' && decision.verdict !== 'orphaned') return null;
  const { execution } = item;
  return {
    target: {
      source: 'ledger',
      kind: execution.kind,
      owner: execution.owner,
      verdict: decision.verdict,
    },
    subject: subjectOf(decision),
  };
}
