/** Renders each panel from the API's JSON. Every function replaces its panel's content. */
import { fill, h, time } from './dom.js';
import type { ExecutionJson } from './format.js';
import { byDeadline, duration, humanize, relative, timeLeft } from './format.js';

export const STATUS_ORDER = ['running', 'queued', 'succeeded', 'failed', 'dead', 'cancelled'];

export interface Summary {
  now: string;
  since: string;
  bucketMs: number;
  statuses: Record<string, number>;
  verdicts: Record<string, number>;
  timeline: { start: string; counts: Record<string, number> }[];
  dueSoon: ExecutionJson[];
}

export interface Remediation {
  id: string;
  at: string;
  executionId: string;
  attempt: number;
  kind: string;
  owner: string | null;
  verdict: string;
  action: string;
  reason: string;
  evidence: Record<string, unknown>;
  steps: { step: string; outcome: string; ms: number; detail: string | null }[];
  outcome: string;
}

export interface SweepReport {
  id: string;
  startedAt: string;
  finishedAt: string;
  dryRun: boolean;
  examined: number;
  decisions: {
    executionId: string;
    verdict: string;
    action: string;
    reason: string;
    outcome: string;
  }[];
  counts: Record<string, number>;
}

export const none = (what = 'None configured') => h('p', { class: 'empty' }, what);

export function renderCounts(summary: Summary): void {
  const remediated = Object.values(summary.verdicts).reduce((a, b) => a + b, 0);
  fill(
    'counts',
    STATUS_ORDER.map((status) =>
      h(
        'li',
        { class: `count status-${status}` },
        h('span', { class: 'count-value' }, summary.statuses[status] ?? 0),
        h('span', { class: 'count-label' }, status),
      ),
    ),
    h(
      'li',
      { class: 'count status-remediated' },
      h('span', { class: 'count-value' }, remediated),
      h('span', { class: 'count-label' }, 'remediated, 24h'),
    ),
  );
}

/** The running list; `tick` refreshes only its countdowns, every second. */
export function renderDue(summary: Summary, now: number): void {
  const running = summary.statuses.running ?? 0;
  const queued = summary.statuses.queued ?? 0;
  const items = byDeadline(summary.dueSoon);
  fill(
    'due-note',
    items.length < running + queued ? `${items.length} of ${running + queued} open` : '',
  );
  if (items.length === 0) {
    fill('due', none('Nothing running'));
    return;
  }
  fill(
    'due',
    h(
      'ul',
      // Scrolls when long: focusable so the keyboard can scroll it too.
      { class: 'due-list', tabindex: 0, 'aria-label': 'Open executions, nearest deadline first' },
      items.map((e) =>
        h(
          'li',
          { class: 'due-item', 'data-id': e.id, 'data-deadline': e.deadlineAt ?? '' },
          h(
            'div',
            { class: 'due-main' },
            h('span', { class: 'mono strong' }, e.id),
            h(
              'span',
              { class: 'muted small' },
              [e.kind, e.owner, e.status === 'queued' ? 'queued' : null, `attempt ${e.attempt}`]
                .filter(Boolean)
                .join(' · '),
            ),
          ),
          h(
            'div',
            { class: 'due-time' },
            h('span', { class: 'left' }),
            h('span', { class: 'muted small limit' }),
            h(
              'span',
              { class: 'meter', 'aria-hidden': 'true' },
              h('span', { class: 'meter-fill' }),
            ),
          ),
        ),
      ),
    ),
  );
  tickDue(summary.dueSoon, now);
}

export function tickDue(items: ExecutionJson[], now: number): void {
  const byId = new Map(items.map((e) => [e.id, e]));
  for (const row of document.querySelectorAll<HTMLElement>('#due .due-item')) {
    const e = byId.get(row.dataset.id ?? '');
    if (!e) continue;
    const left = timeLeft(e, now);
    row.dataset.urgency = left.urgency;
    row.querySelector('.left')!.textContent = left.text;
    row.querySelector('.limit')!.textContent = left.limit ? `on ${left.limit} limit` : '';
    const fillBar = row.querySelector<HTMLElement>('.meter-fill')!;
    fillBar.style.width = `${Math.round((left.used ?? 0) * 100)}%`;
  }
}

export function renderRemediations(items: Remediation[], now: number): void {
  if (items.length === 0) {
    fill('remediations', none('No remediations yet'));
    return;
  }
  fill(
    'remediations',
    h(
      'ul',
      { class: 'remediation-list' },
      items.map((r) =>
        h(
          'li',
          { class: 'remediation', 'data-execution': r.executionId },
          h(
            'div',
            { class: 'remediation-head' },
            verdictBadge(r.verdict),
            h('span', { class: 'mono strong' }, r.executionId),
            h('span', { class: 'muted small' }, `attempt ${r.attempt} · ${r.kind}`),
            h('span', { class: 'muted small push' }, time(r.at, relative(r.at, now))),
          ),
          h('p', { class: 'reason' }, r.reason),
          h(
            'p',
            { class: 'muted small' },
            `${humanize(r.action)} → ${humanize(r.outcome)}`,
            r.owner ? ` · owner ${r.owner}` : '',
          ),
          h(
            'details',
            {},
            h('summary', {}, 'Evidence and steps'),
            h('pre', { class: 'evidence' }, JSON.stringify(r.evidence, null, 2)),
            h(
              'ol',
              { class: 'steps small' },
              r.steps.map((step) =>
                h(
                  'li',
                  {},
                  `${step.step}: ${step.outcome}`,
                  step.detail ? ` — ${step.detail}` : '',
                ),
              ),
            ),
          ),
        ),
      ),
    ),
  );
}

export function verdictBadge(verdict: string): HTMLElement {
  return h('span', { class: `badge verdict-${verdict}` }, humanize(verdict));
}

/** A sweep report: when, how many examined, and its decisions. */
export function renderSweep(target: string, report: SweepReport | null, now: number): void {
  if (report === null) {
    fill(target, none('No sweep has run yet'));
    return;
  }
  const remediated = report.counts.remediated ?? 0;
  const failed = report.counts.failed ?? 0;
  const ms = Date.parse(report.finishedAt) - Date.parse(report.startedAt);
  fill(
    target,
    h(
      'p',
      { class: 'sweep-line' },
      report.dryRun ? 'Dry run ' : 'Finished ',
      time(report.finishedAt, relative(report.finishedAt, now)),
      ` in ${duration(ms)} · examined ${report.examined} overdue · `,
      report.dryRun ? `would remediate ${remediated}` : `remediated ${remediated}`,
      failed ? ` · ${failed} failed` : '',
    ),
    report.decisions.length === 0
      ? none(
          report.examined === 0
            ? 'Nothing overdue: every execution is within its limits.'
            : 'No action needed.',
        )
      : decisionsTable(report),
  );
}

function decisionsTable(report: SweepReport): HTMLElement {
  return scroller(
    `Decisions of ${report.dryRun ? 'the dry run' : 'the last sweep'}`,
    h(
      'table',
      { class: 'table' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ['Execution', 'Verdict', 'Action', 'Outcome', 'Reason'].map((c) =>
            h('th', { scope: 'col' }, c),
          ),
        ),
      ),
      h(
        'tbody',
        {},
        report.decisions.map((d) =>
          h(
            'tr',
            {},
            h('td', { class: 'mono' }, d.executionId),
            h('td', {}, verdictBadge(d.verdict)),
            h('td', {}, humanize(d.action)),
            h('td', {}, humanize(d.outcome)),
            h('td', {}, d.reason),
          ),
        ),
      ),
    ),
  );
}

/** A table that scrolls sideways on a narrow screen, reachable by keyboard. */
export function scroller(label: string, table: HTMLElement): HTMLElement {
  return h('div', { class: 'scroller', role: 'region', 'aria-label': label, tabindex: 0 }, table);
}

type Cell = string | number | Node;
export interface Column<T> {
  title: string;
  cell: (item: T) => Cell;
}

/**
 * A status list (owners, processes, …): "None configured" when the API is absent or empty, the
 * reason when it failed.
 */
export function renderList<T>(
  target: string,
  label: string,
  items: T[] | null | Error,
  columns: Column<T>[],
): void {
  if (items instanceof Error) {
    fill(target, h('p', { class: 'empty' }, `Unavailable: ${items.message}`));
    return;
  }
  if (items === null || items.length === 0) {
    fill(target, none());
    return;
  }
  fill(
    target,
    scroller(
      label,
      h(
        'table',
        { class: 'table' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            columns.map((c) => h('th', { scope: 'col' }, c.title)),
          ),
        ),
        h(
          'tbody',
          {},
          items.map((item) =>
            h(
              'tr',
              {},
              columns.map((c) => h('td', {}, c.cell(item))),
            ),
          ),
        ),
      ),
    ),
  );
}

/** A coloured word for a state: good, bad, warn or neutral. */
export function stateTag(text: string, tone: 'good' | 'bad' | 'warn' | 'neutral'): HTMLElement {
  return h('span', { class: `tag tone-${tone}` }, text);
}
