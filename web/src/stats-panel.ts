/** The "Stuck most often" panel: `GET /v1/stats` for the chosen window and grouping. */
import { call } from './api.js';
import { byId, fill, h } from './dom.js';
import { duration, humanize } from './format.js';
import { renderList } from './panels.js';

interface Durations {
  p50: number | null;
  p95: number | null;
  max: number | null;
}

export interface StatsGroup {
  key: Record<string, string | null>;
  stuck: number;
  verdicts: Record<string, number>;
  ended: number;
  retried: number;
  deadLettered: number;
  leftAlone: number;
  failed: number;
  ranMs: Durations;
  lateMs: Durations;
}

export interface StatsAnswer {
  by: string[];
  /** The labels mapped tables keep (`labels:`), each a grouping the selector offers. */
  labels?: string[];
  totalStuck: number;
  totalGroups: number;
  groups: StatsGroup[];
}

const LIMIT = 10;

/** The window and grouping the selectors show, as query parameters. */
export function statsPath(): string {
  const since = byId<HTMLSelectElement>('stats-window').value;
  const by = byId<HTMLSelectElement>('stats-by').value;
  return `/v1/stats?since=${encodeURIComponent(since)}&by=${encodeURIComponent(by)}&limit=${LIMIT}`;
}

export async function loadStats(): Promise<void> {
  const answer = await call<StatsAnswer>('GET', statsPath());
  offerLabels(answer.labels ?? []);
  renderStats(answer);
}

/** Adds "by LABEL" to the grouping selector for each label the mapped tables keep. */
function offerLabels(labels: readonly string[]): void {
  const select = byId<HTMLSelectElement>('stats-by');
  for (const label of labels) {
    const value = `label:${label}`;
    if ([...select.options].some((option) => option.value === value)) continue;
    select.append(h('option', { value }, label));
  }
}

const ms = (value: number | null) => (value === null ? '–' : duration(value));

export function renderStats(answer: StatsAnswer): void {
  const windowText = byId<HTMLSelectElement>('stats-window').selectedOptions[0]?.text ?? '';
  fill(
    'stats-total',
    answer.totalStuck === 0
      ? ''
      : `${answer.totalStuck} stuck in the ${windowText}` +
          (answer.totalGroups > answer.groups.length
            ? `; top ${answer.groups.length} of ${answer.totalGroups} groups`
            : ''),
  );
  if (answer.groups.length === 0) {
    fill('stats', h('p', { class: 'empty' }, `Nothing stuck in the ${windowText}`));
    return;
  }
  renderList('stats', 'Stuck most often', answer.groups, [
    ...answer.by.map((name) => ({
      title: name.startsWith('label:') ? name.slice('label:'.length) : humanize(name),
      cell: (g: StatsGroup) => h('span', { class: 'mono' }, g.key[name] ?? '–'),
    })),
    { title: 'Stuck', cell: (g) => h('strong', {}, g.stuck) },
    { title: 'Ended', cell: (g) => g.ended },
    { title: 'Retried', cell: (g) => g.retried },
    { title: 'Dead', cell: (g) => g.deadLettered },
    { title: 'Not ended', cell: (g) => g.leftAlone + g.failed },
    { title: 'Ran p50 / p95', cell: (g) => `${ms(g.ranMs.p50)} / ${ms(g.ranMs.p95)}` },
    { title: 'Late p95', cell: (g) => ms(g.lateMs.p95) },
    {
      title: 'Verdicts',
      cell: (g) =>
        Object.entries(g.verdicts)
          .map(([verdict, n]) => `${humanize(verdict)} ${n}`)
          .join(', '),
    },
  ]);
}
