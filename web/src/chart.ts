/** The remediation timeline: a stacked bar chart drawn as inline SVG, no chart library. */
import { fill, h, s } from './dom.js';
import { humanize, layoutTimeline } from './format.js';
import type { Summary } from './panels.js';

/** Verdicts that end executions, bottom of the stack first; each has its colour in styles.css. */
export const VERDICTS = [
  'heartbeat_lost',
  'run_timeout',
  'no_progress',
  'orphaned',
  'queue_timeout',
] as const;

const HEIGHT = 250;
const LEFT = 34;
const RIGHT = 6;
const TOP = 8;
const BOTTOM = 26;

/**
 * Draws at the container's own pixel width (re-drawn on resize), so text in the chart stays at its
 * real size on a phone instead of being scaled down with the picture.
 */
export function renderTimeline(summary: Summary): void {
  const WIDTH = Math.max(280, Math.round(document.getElementById('timeline')?.clientWidth ?? 640));
  const plotWidth = WIDTH - LEFT - RIGHT;
  const plotHeight = HEIGHT - TOP - BOTTOM;
  const layout = layoutTimeline(
    summary.timeline,
    VERDICTS,
    plotWidth,
    plotHeight,
    Math.max(2, Math.floor(plotWidth / 90)),
  );
  const total = layout.bars.reduce((sum, bar) => sum + bar.total, 0);
  const long = summary.bucketMs >= 86_400_000;
  const label = (at: number) =>
    new Date(at).toLocaleString(
      undefined,
      long
        ? { month: 'short', day: 'numeric' }
        : { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' },
    );
  const describe =
    total === 0
      ? 'No remediations in the last 24 hours.'
      : `${total} remediations in the last 24 hours: ${VERDICTS.filter((v) => summary.verdicts[v])
          .map((v) => `${humanize(v)} ${summary.verdicts[v]}`)
          .join(', ')}.`;

  fill('timeline-total', total === 0 ? '' : `${total} in total`);
  const svg = s(
    'svg',
    {
      class: 'chart',
      viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
      role: 'img',
      'aria-labelledby': 'chart-title chart-desc',
      width: WIDTH,
      height: HEIGHT,
    },
    s('title', { id: 'chart-title' }, 'Remediations by verdict over time'),
    s('desc', { id: 'chart-desc' }, describe),
    s(
      'g',
      { transform: `translate(${LEFT} ${TOP})` },
      layout.ticks.map((tick) =>
        s(
          'g',
          { class: 'tick' },
          s('line', { x1: 0, x2: plotWidth, y1: tick.y, y2: tick.y }),
          s(
            'text',
            { x: -6, y: tick.y, 'text-anchor': 'end', 'dominant-baseline': 'middle' },
            tick.value,
          ),
        ),
      ),
      layout.bars.map((bar) =>
        s(
          'g',
          { class: 'bar' },
          s(
            'title',
            {},
            `${label(bar.start)}: ${bar.total === 0 ? 'none' : bar.segments.map((seg) => `${humanize(seg.verdict)} ${seg.count}`).join(', ')}`,
          ),
          // A transparent full-height target so the tooltip works on empty buckets too.
          s('rect', { class: 'hit', x: bar.x, y: 0, width: bar.width, height: plotHeight }),
          bar.segments.map((seg) =>
            s('rect', {
              class: `seg fill-${seg.verdict}`,
              x: bar.x,
              y: seg.y,
              width: bar.width,
              height: Math.max(seg.height, 1),
            }),
          ),
        ),
      ),
      s('line', { class: 'axis', x1: 0, x2: plotWidth, y1: plotHeight, y2: plotHeight }),
      layout.labelled.map((i) => {
        const bar = layout.bars[i]!;
        return s(
          'text',
          { class: 'x-label', x: bar.x, y: plotHeight + 17, 'text-anchor': 'start' },
          label(bar.start),
        );
      }),
    ),
  );
  fill(
    'timeline',
    h(
      'div',
      { class: 'chart-box' },
      svg,
      total === 0 ? h('p', { class: 'chart-empty' }, 'No remediations in the last 24 hours') : null,
    ),
    h(
      'ul',
      { class: 'legend', 'aria-label': 'Remediations by verdict' },
      VERDICTS.map((v) =>
        h(
          'li',
          {},
          h('span', { class: `swatch fill-${v}`, 'aria-hidden': 'true' }),
          humanize(v),
          h('span', { class: 'legend-count' }, summary.verdicts[v] ?? 0),
        ),
      ),
    ),
  );
}
