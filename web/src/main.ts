/**
 * The live dashboard. Reads only the HTTP API and the event stream: loads every panel once, then
 * reloads the panels an event concerns (coalesced, so a sweep that ends thousands of executions
 * costs one reload), re-reads the rest on a timer, and counts deadlines down every second.
 */
import { ApiError, call, listOrNull, token } from './api.js';
import { renderTimeline } from './chart.js';
import { byId, fill, h, time } from './dom.js';
import type { ConnectionState, StreamEvent } from './events.js';
import { followEvents } from './events.js';
import { duration, humanize, relative } from './format.js';
import type { Remediation, Summary, SweepReport } from './panels.js';
import {
  renderCounts,
  renderDue,
  renderList,
  renderRemediations,
  renderSweep,
  stateTag,
  tickDue,
} from './panels.js';
import { loadStats } from './stats-panel.js';
import { loadRetention, wireRetention } from './retention.js';
import { loadRole } from './role.js';
import { loadSilences, wireSilences } from './silences.js';
import type { ScheduleItem } from './schedules.js';
import { renderSchedules } from './schedules.js';
import './styles.css';

interface Owner {
  name: string;
  reachable: boolean | null;
  lastCheckedAt: string | null;
  consecutiveUnknown: number;
  breaker: 'closed' | 'open';
  running: number;
}
interface ProcessStatus {
  name: string;
  enabled: boolean;
  verdict: string | null;
  evidence: Record<string, unknown>;
  pid: number | null;
  consecutiveUnhealthy: number;
  restarts: number;
  lastCheckAt: string | null;
  nextRestartAt: string | null;
  gaveUp: boolean;
}
interface Probe {
  name: string;
  url: string;
  state: 'passing' | 'failing' | 'unknown';
  consecutiveFailures: number;
  consecutiveSuccesses: number;
  lastCheckAt: string | null;
  lastError: string | null;
}
interface Operation {
  source: string;
  id: string;
  status: string;
  lastUpdateAt: string | null;
  stuck: boolean;
  stuckForMs: number | null;
}
interface Notification {
  id: string;
  channel: string;
  eventType: string;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  lastError: string | null;
  createdAt: string;
  deliveredAt: string | null;
}

/** The service's clock minus ours: countdowns use the server's time, whatever this machine says. */
let skew = 0;
const now = () => Date.now() + skew;
let summary: Summary | null = null;
let remediations: Remediation[] = [];
let latestSweep: SweepReport | null = null;
let stopEvents: (() => void) | null = null;

type Panel = 'summary' | 'remediations' | 'sweep' | 'status' | 'stats';
const loaders: Record<Panel, () => Promise<void>> = {
  summary: async () => {
    const answer = await call<Summary>('GET', '/v1/summary');
    skew = Date.parse(answer.now) - Date.now();
    summary = answer;
    renderCounts(answer);
    renderDue(answer, now());
    renderTimeline(answer);
  },
  remediations: async () => {
    remediations = (await call<{ items: Remediation[] }>('GET', '/v1/remediations?limit=6')).items;
    renderRemediations(remediations, now());
  },
  stats: loadStats,
  sweep: async () => {
    try {
      latestSweep = await call<SweepReport>('GET', '/v1/sweeps/latest');
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 404)) throw error;
      latestSweep = null;
    }
    renderSweep('sweep', latestSweep, now());
  },
  status: async () => {
    const [owners, processes, probes, operations, notifications, schedules] = await Promise.all([
      statusList<Owner>('/v1/owners'),
      statusList<ProcessStatus>('/v1/processes'),
      statusList<Probe>('/v1/probes'),
      statusList<Operation>('/v1/operations'),
      statusList<Notification>('/v1/notifications'),
      statusList<ScheduleItem>('/v1/schedules'),
    ]);
    const newest = Array.isArray(notifications) ? notifications.slice(0, 10) : notifications;
    renderStatus(owners, processes, probes, operations, newest);
    renderSchedules(schedules, now());
    await Promise.all([loadSilences(), loadRetention()]);
  },
};

/**
 * One status list: its items, null when this Vigil has no such API, or the error that one panel
 * shows on its own (a failing list never blanks the others). A refused token goes to the login
 * form; a list refused to a token that read the summary says why in its panel instead.
 */
function statusList<T>(path: string): Promise<T[] | null | Error> {
  return listOrNull<T>(path).catch((error: unknown) => {
    if (error instanceof ApiError && error.status === 401) throw error;
    return error instanceof Error ? error : new Error(String(error));
  });
}

function renderStatus(
  owners: Owner[] | null | Error,
  processes: ProcessStatus[] | null | Error,
  probes: Probe[] | null | Error,
  operations: Operation[] | null | Error,
  notifications: Notification[] | null | Error,
): void {
  const t = now();
  const when = (at: string | null) => time(at, relative(at, t));
  renderList('owners', 'Owners', owners, [
    { title: 'Owner', cell: (o) => h('span', { class: 'mono' }, o.name) },
    {
      title: 'Reachable',
      cell: (o) =>
        o.reachable === null
          ? stateTag('not asked yet', 'neutral')
          : o.reachable
            ? stateTag('reachable', 'good')
            : stateTag(`unknown × ${o.consecutiveUnknown}`, 'bad'),
    },
    {
      title: 'Breaker',
      cell: (o) => stateTag(o.breaker, o.breaker === 'open' ? 'bad' : 'good'),
    },
    { title: 'Running', cell: (o) => o.running },
    { title: 'Checked', cell: (o) => when(o.lastCheckedAt) },
  ]);
  renderList('processes', 'Processes', processes, [
    { title: 'Process', cell: (p) => h('span', { class: 'mono' }, p.name) },
    {
      title: 'State',
      cell: (p) =>
        !p.enabled
          ? stateTag('off', 'neutral')
          : p.gaveUp
            ? stateTag('gave up', 'bad')
            : p.verdict === null
              ? stateTag('not checked', 'neutral')
              : stateTag(humanize(p.verdict), p.verdict === 'healthy' ? 'good' : 'bad'),
    },
    { title: 'PID', cell: (p) => p.pid ?? '—' },
    { title: 'Restarts', cell: (p) => p.restarts },
    {
      title: 'Checked',
      cell: (p) =>
        p.nextRestartAt
          ? h('span', {}, when(p.lastCheckAt), ' · restart ', when(p.nextRestartAt))
          : when(p.lastCheckAt),
    },
  ]);
  renderList('probes', 'Probes', probes, [
    {
      title: 'Probe',
      cell: (p) => h('span', { title: p.url }, h('span', { class: 'mono' }, p.name)),
    },
    {
      title: 'State',
      cell: (p) =>
        stateTag(
          p.state === 'failing' ? `failing × ${p.consecutiveFailures}` : p.state,
          p.state === 'passing' ? 'good' : p.state === 'failing' ? 'bad' : 'neutral',
        ),
    },
    { title: 'Last error', cell: (p) => p.lastError ?? '—' },
    { title: 'Checked', cell: (p) => when(p.lastCheckAt) },
  ]);
  renderList('operations', 'Operations', operations, [
    { title: 'Operation', cell: (o) => h('span', { class: 'mono' }, `${o.source}/${o.id}`) },
    { title: 'Status', cell: (o) => o.status },
    {
      title: 'Stuck',
      cell: (o) =>
        o.stuck
          ? stateTag(`stuck ${o.stuckForMs === null ? '' : duration(o.stuckForMs)}`.trim(), 'bad')
          : stateTag('moving', 'good'),
    },
    { title: 'Updated', cell: (o) => when(o.lastUpdateAt) },
  ]);
  renderList('notifications', 'Notifications', notifications, [
    { title: 'Event', cell: (n) => n.eventType },
    { title: 'Channel', cell: (n) => n.channel },
    {
      title: 'Status',
      cell: (n) =>
        stateTag(
          n.status,
          n.status === 'delivered' ? 'good' : n.status === 'failed' ? 'bad' : 'warn',
        ),
    },
    { title: 'Attempts', cell: (n) => n.attempts },
    { title: 'Error', cell: (n) => n.lastError ?? '—' },
    { title: 'Created', cell: (n) => when(n.createdAt) },
  ]);
}

/** Reloads panels, coalescing requests that arrive while one is pending or running. */
const pending = new Set<Panel>();
let scheduled: number | null = null;
function reload(...panels: Panel[]): void {
  for (const panel of panels) pending.add(panel);
  if (scheduled !== null) return;
  scheduled = window.setTimeout(() => {
    scheduled = null;
    const due = [...pending];
    pending.clear();
    void Promise.all(due.map((panel) => loaders[panel]().catch(onLoadError)));
  }, 150);
}

function onLoadError(error: unknown): void {
  if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
    showLogin(error);
    return;
  }
  fill(
    'footer-text',
    `Could not load a panel: ${error instanceof Error ? error.message : String(error)}`,
  );
}

/** What each event type changes on the page. */
function panelsFor(type: string): Panel[] {
  if (type.startsWith('execution:')) return ['summary', 'remediations', 'stats'];
  if (type === 'sweep:completed') return ['summary', 'sweep'];
  return ['status'];
}

function onEvent(event: StreamEvent): void {
  const data = event.data;
  if (event.type === 'sweep:completed' && data.dryRun === true) return;
  reload(...panelsFor(event.type));
  if (event.type === 'sweep:completed' || event.type === 'execution:stuck') return;
  const subject = [data.executionId, data.name, data.schedule, data.owner].find(
    (v) => typeof v === 'string',
  );
  const at = typeof data.at === 'string' ? data.at : new Date(now()).toISOString();
  const list = byId('activity');
  list.prepend(
    h(
      'li',
      {},
      h('span', { class: 'muted small' }, time(at, new Date(at).toLocaleTimeString())),
      ' ',
      h('span', { class: 'strong' }, event.type),
      subject ? [' ', h('span', { class: 'mono' }, subject)] : null,
      typeof data.reason === 'string' ? h('span', { class: 'muted' }, ` — ${data.reason}`) : null,
    ),
  );
  while (list.children.length > 8) list.lastElementChild?.remove();
}

const CONNECTION_TEXT: Record<ConnectionState, string> = {
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  unauthorized: 'Not authorised',
};

function setConnection(state: ConnectionState): void {
  byId('connection').dataset.state = state;
  fill('connection-text', CONNECTION_TEXT[state]);
  if (state === 'unauthorized') showLogin(null);
}

async function dryRun(): Promise<void> {
  const button = byId<HTMLButtonElement>('dry-run');
  button.setAttribute('aria-busy', 'true');
  button.disabled = true;
  fill('dry-status', 'Running a dry run…');
  try {
    const report = await call<SweepReport>('POST', '/v1/sweeps', { dryRun: true });
    renderSweep('dry-result', report, now());
    const n = report.decisions.length;
    fill(
      'dry-status',
      n === 0
        ? `Dry run: nothing to do (${report.examined} overdue examined).`
        : `Dry run: ${n} decision${n === 1 ? '' : 's'}; nothing was changed.`,
    );
  } catch (error) {
    fill(
      'dry-status',
      error instanceof ApiError && error.code === 'sweep_in_progress'
        ? 'A sweep is running right now; try again in a moment.'
        : `The dry run failed: ${error instanceof Error ? error.message : String(error)}`,
    );
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
    // Disabling a focused button drops focus; give it back so Enter can run it again.
    if (document.activeElement === document.body) button.focus();
  }
}

function showLogin(error: ApiError | null): void {
  stopEvents?.();
  stopEvents = null;
  byId('connection').dataset.state = 'unauthorized';
  fill('connection-text', 'Token needed');
  byId('dashboard').hidden = true;
  byId('login').hidden = false;
  const hadToken = token.get() !== null;
  fill(
    'login-error',
    error?.status === 403
      ? 'This token may not read the dashboard (a runner token?). Use the admin token or a viewer token.'
      : hadToken
        ? 'That token was refused.'
        : '',
  );
  byId('token-input').focus();
}

async function start(): Promise<void> {
  try {
    await loaders.summary();
    await loadRole();
  } catch (error) {
    if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
      showLogin(error);
      return;
    }
    fill(
      'footer-text',
      `Vigil did not answer: ${error instanceof Error ? error.message : String(error)}`,
    );
    window.setTimeout(() => void start(), 3_000);
    return;
  }
  byId('login').hidden = true;
  byId('dashboard').hidden = false;
  byId('forget-token').hidden = token.get() === null;
  reload('remediations', 'sweep', 'status', 'stats');
  stopEvents?.();
  stopEvents = followEvents({
    onEvent,
    onState: setConnection,
    // (Re)connected: anything may have happened while the stream was down.
    onOpen: () => reload('summary', 'remediations', 'sweep', 'status', 'stats'),
  });
}

function wire(): void {
  byId('dry-run').addEventListener('click', () => void dryRun());
  for (const id of ['stats-window', 'stats-by']) {
    byId(id).addEventListener('change', () => reload('stats'));
  }
  byId('login-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const value = byId<HTMLInputElement>('token-input').value.trim();
    if (!value) {
      fill('login-error', 'Enter the token.');
      return;
    }
    token.set(value);
    byId<HTMLInputElement>('token-input').value = '';
    void start();
  });
  byId('forget-token').addEventListener('click', () => {
    token.clear();
    byId('forget-token').hidden = true;
    showLogin(null);
  });
  window.setInterval(() => {
    if (summary) tickDue(summary.dueSoon, now());
  }, 1_000);
  // A registration or a heartbeat sends no event, so the running list is re-read every 5 s; owners,
  // processes and probes can recover quietly, so their panels are re-read every 15 s.
  window.setInterval(() => {
    if (!byId('dashboard').hidden) reload('summary');
  }, 5_000);
  window.setInterval(() => {
    if (!byId('dashboard').hidden) reload('status');
  }, 15_000);
  let width = 0;
  new ResizeObserver(() => {
    const current = byId('timeline').clientWidth;
    if (summary && current !== width) renderTimeline(summary);
    width = current;
  }).observe(byId('timeline'));
}

wire();
wireSilences(() => reload('status'));
wireRetention(now);
void start();
