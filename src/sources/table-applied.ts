/** What a mapped table's sweep reports for each row it decided about: `Applied` values. */
import { actionLabel } from '../core/decide.js';
import type { Decision } from '../core/decide.js';
import type { DecisionOutcome, StepRecord, Subject } from '../ports/audit-store.js';
import type { Applied } from '../ports/source.js';

export function applied(
  decision: Decision,
  outcome: DecisionOutcome,
  steps: StepRecord[],
  // Like the ledger: a lost race changed nothing, so it is reported but not audited.
  audit = decision.verdict !== 'healthy' && outcome !== 'lost_race',
): Applied {
  return { subject: subjectOf(decision), outcome, steps, audit, events: [] };
}

export function subjectOf(decision: Decision): Subject {
  return {
    executionId: decision.executionId,
    attempt: decision.attempt,
    kind: decision.kind,
    owner: decision.owner,
    verdict: decision.verdict,
    action: actionLabel(decision.action),
    reason: decision.reason,
    evidence: decision.evidence,
  };
}

export const elapsed = (started: number) => Math.round((performance.now() - started) * 1000) / 1000;
