/**
 * Pure helpers of the dashboard: no DOM, no clock (`now` is an argument), so they are tested
 * like the core.
 */

/** An execution as the API answers it (the fields the dashboard reads). */
export interface ExecutionJson {
  id: string;
  kind: string;
  owner: string | null;
  status: string;
  attempt: number;
  queuedAt: string | null;
  startedAt: string | null;
  heartbeatAt: string | null;
  progressAt: string | null;
  deadlineAt: string | null;
  limits: {
    run: number | null;
    heartbeat: number | null;
    progress: number | null;
    queue: number | null;
  };
  progress: string | number | null;
}

const UNITS: [string, number][] = [
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1_000],
];

/** "2h 5m", "4m 10s", "12s", "4.2s", "85ms": the two largest units, to the second above 10 s. */
export function duration(ms: number): string {
  const abs = Math.abs(ms);
  if (abs < 1_000) return `${Math.round(abs)}ms`;
  if (abs < 10_000) return `${(Math.floor(abs / 100) / 10).toString()}s`;
  const parts: string[] = [];
  let rest = abs;
  for (const [unit, size] of UNITS) {
    const n = Math.floor(rest / size);
    if (n > 0 || parts.length > 0) parts.push(`${n}${unit}`);
    rest -= n * size;
    if (parts.length === 2) break;
  }
  return parts.filter((p) => !p.startsWith('0') || parts.length === 1).join(' ');
}

/** "3m ago", "in 12s", "just now". */
export function relative(at: string | null, now: number): string {
  if (at === null) return 'never';
  const delta = Date.parse(at) - now;
  if (Math.abs(delta) < 1_000) return 'just now';
  return delta > 0 ? `in ${duration(delta)}` : `${duration(delta)} ago`;
}

export interface TimeLeft {
  /** "12s left", "overdue by 3s", "no deadline" */
  text: string;
  /** Milliseconds until the deadline; negative when overdue; null without one. */
  ms: number | null;
  urgency: 'overdue' | 'soon' | 'ok' | 'none';
  /** The limit that sets the deadline: "heartbeat", "run", "progress", "queue". */
  limit: string | null;
  /** How much of that limit is used, 0–1. */
  used: number | null;
}

/**
 * How long until an execution is judged, and on which limit. The deadline is the earliest of
 * start + run, last heartbeat + heartbeat, last progress + progress (queue for queued work), as
 * the core computes it; "soon" is under a fifth of the limit left or under 10 s.
 */
export function timeLeft(e: ExecutionJson, now: number): TimeLeft {
  if (e.deadlineAt === null)
    return { text: 'no deadline', ms: null, urgency: 'none', limit: null, used: null };
  const deadline = Date.parse(e.deadlineAt);
  const ms = deadline - now;
  const binding = bindingLimit(e, deadline);
  const used =
    binding === null || binding.size <= 0
      ? null
      : Math.min(1, Math.max(0, (now - (deadline - binding.size)) / binding.size));
  const soon = ms <= 10_000 || (binding !== null && ms <= binding.size / 5);
  return {
    text: ms < 0 ? `overdue by ${duration(ms)}` : `${duration(ms)} left`,
    ms,
    urgency: ms < 0 ? 'overdue' : soon ? 'soon' : 'ok',
    limit: binding?.name ?? null,
    used,
  };
}

function bindingLimit(e: ExecutionJson, deadline: number): { name: string; size: number } | null {
  const t = (s: string | null) => (s === null ? null : Date.parse(s));
  const started = t(e.startedAt);
  const candidates: [string, number | null, number | null][] =
    e.status === 'queued'
      ? [['queue', t(e.queuedAt), e.limits.queue]]
      : [
          ['heartbeat', t(e.heartbeatAt) ?? started, e.limits.heartbeat],
          ['progress', t(e.progressAt) ?? started, e.limits.progress],
          ['run', started, e.limits.run],
        ];
  for (const [name, from, size] of candidates) {
    if (from !== null && size !== null && from + size === deadline) return { name, size };
  }
  return null;
}

/** Open executions, nearest deadline first; those without one last. */
export function byDeadline(items: ExecutionJson[]): ExecutionJson[] {
  const key = (e: ExecutionJson) =>
    e.deadlineAt === null ? Number.POSITIVE_INFINITY : Date.parse(e.deadlineAt);
  return [...items].sort((a, b) => key(a) - key(b) || a.id.localeCompare(b.id));
}

/**
 * How long retention keeps a table, as vigil.yaml would say it in words: "30 days", "36 hours",
 * "forever" (null). Whole days or hours read as such; anything else as a duration.
 */
export function keepText(ms: number | null): string {
  if (ms === null) return 'forever';
  const plural = (n: number, unit: string) => `${n} ${unit}${n === 1 ? '' : 's'}`;
  if (ms > 0 && ms % 86_400_000 === 0) return plural(ms / 86_400_000, 'day');
  if (ms > 0 && ms % 3_600_000 === 0) return plural(ms / 3_600_000, 'hour');
  return duration(ms);
}

/** `heartbeat_lost` → "heartbeat lost". */
export function humanize(name: string): string {
  return name.replaceAll('_', ' ');
}

export interface Bar {
  start: number;
  /** Segments bottom-up, in the order of `verdicts`. */
  segments: { verdict: string; count: number; y: number; height: number }[];
  total: number;
  x: number;
  width: number;
}

export interface ChartLayout {
  bars: Bar[];
  max: number;
  /** Horizontal grid lines: value and y. */
  ticks: { value: number; y: number }[];
  /** Indices of the bars that get a time label under them. */
  labelled: number[];
}

/**
 * Lays out a stacked bar chart of remediations per bucket in a `width` × `height` plot area.
 * The y axis goes to a round maximum (1, 2, 5 × 10^n) so the grid lines fall on whole numbers.
 */
export function layoutTimeline(
  timeline: { start: string; counts: Record<string, number> }[],
  verdicts: readonly string[],
  width: number,
  height: number,
  maxLabels = 6,
): ChartLayout {
  const totals = timeline.map((b) => verdicts.reduce((sum, v) => sum + (b.counts[v] ?? 0), 0));
  const max = niceMax(Math.max(0, ...totals));
  const slot = timeline.length === 0 ? width : width / timeline.length;
  const gap = Math.min(4, slot * 0.2);
  const scale = (n: number) => (n / max) * height;
  const bars = timeline.map((bucket, i): Bar => {
    let y = height;
    const segments = [];
    for (const verdict of verdicts) {
      const count = bucket.counts[verdict] ?? 0;
      if (count === 0) continue;
      const h = scale(count);
      y -= h;
      segments.push({ verdict, count, y, height: h });
    }
    return {
      start: Date.parse(bucket.start),
      segments,
      total: totals[i] ?? 0,
      x: i * slot + gap / 2,
      width: Math.max(1, slot - gap),
    };
  });
  const step = max <= 5 ? 1 : max / 5;
  const ticks = [];
  for (let value = 0; value <= max; value += step) ticks.push({ value, y: height - scale(value) });
  const every = Math.max(1, Math.ceil(timeline.length / maxLabels));
  const labelled = timeline.map((_, i) => i).filter((i) => i % every === 0);
  return { bars, max, ticks, labelled };
}

function niceMax(n: number): number {
  if (n <= 5) return 5;
  const power = 10 ** Math.floor(Math.log10(n));
  for (const m of [1, 2, 5, 10]) if (m * power >= n) return m * power;
  return 10 * power;
}
