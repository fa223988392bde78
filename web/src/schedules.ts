/** The Schedules panel: each schedule's state, next due time, last start and latest misses. */
import { h, time } from './dom.js';
import { duration, relative } from './format.js';
import { renderList, stateTag } from './panels.js';

export interface ScheduleItem {
  name: string;
  /** Where it is defined: vigil.yaml, or through the API (PUT /v1/schedules/:name). */
  source: 'config' | 'api';
  cron: string | null;
  tz: string | null;
  everyMs: number | null;
  graceMs: number;
  state: 'waiting' | 'ok' | 'missed' | 'late';
  nextDueAt: string | null;
  lastStartAt: string | null;
  recent: {
    dueAt: string;
    verdict: 'missed' | 'late';
    count: number;
    lateStartAt: string | null;
  }[];
}

const TONE = { waiting: 'neutral', ok: 'good', missed: 'bad', late: 'warn' } as const;

export function renderSchedules(items: ScheduleItem[] | null | Error, now: number): void {
  const when = (at: string | null) => time(at, relative(at, now));
  renderList('schedules', 'Schedules', items, [
    { title: 'Schedule', cell: (s) => h('span', { class: 'mono' }, s.name) },
    { title: 'Defined in', cell: (s) => (s.source === 'api' ? 'API' : 'vigil.yaml') },
    {
      title: 'When',
      cell: (s) =>
        h(
          'span',
          { class: 'mono' },
          s.cron !== null ? `${s.cron} (${s.tz ?? 'UTC'})` : `every ${duration(s.everyMs ?? 0)}`,
          ` · grace ${duration(s.graceMs)}`,
        ),
    },
    { title: 'State', cell: (s) => stateTag(s.state, TONE[s.state]) },
    { title: 'Next due', cell: (s) => when(s.nextDueAt) },
    { title: 'Last start', cell: (s) => when(s.lastStartAt) },
    { title: 'Latest misses', cell: (s) => misses(s, when) },
  ]);
}

function misses(
  s: ScheduleItem,
  when: (at: string | null) => HTMLElement | string,
): HTMLElement | string {
  if (s.recent.length === 0) return '—';
  return h(
    'span',
    {},
    s.recent
      .slice(0, 3)
      .flatMap((v, i) => [
        i > 0 ? ', ' : '',
        when(v.dueAt),
        v.count > 1 ? ` (+${v.count - 1} before)` : '',
        v.verdict === 'late' ? ' late' : '',
      ]),
  );
}
