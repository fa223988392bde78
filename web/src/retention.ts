/**
 * The Retention panel: how long each table is kept, what this service pruned since it started and
 * in its last pass and, for the admin, how many rows are prunable now (a dry run) and a pass on
 * demand. Both are `POST /v1/retention/prune`, an admin action: a viewer sees the settings and the
 * totals, and no button that would be refused.
 */
import { ApiError, call } from './api.js';
import { byId, fill, h, time } from './dom.js';
import { duration, keepText, relative } from './format.js';
import { none, renderList, stateTag } from './panels.js';

interface PruneReport {
  dryRun: boolean;
  /** True (with no tables) when another replica held the pass. */
  skipped: boolean;
  tables: { table: string; before: string; rows: number }[];
}

export interface RetentionState {
  keepMs: Record<string, number | null>;
  intervalMs: number;
  batchSize: number;
  prunedSinceStart: Record<string, number>;
  lastPass: (PruneReport & { at: string }) | null;
  running: boolean;
  canPrune: boolean;
}

let state: RetentionState | null = null;
/** The last dry run's counts per table; forgotten after a pass, which makes them stale. */
let prunable: Map<string, number> | null = null;
/** A count or a pass asked for from this page and not answered yet. */
let busy = false;
let clock: () => number = Date.now;

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));
const sum = (tables: PruneReport['tables']) => tables.reduce((n, t) => n + t.rows, 0);
const rowsText = (n: number) => `${n} row${n === 1 ? '' : 's'}`;

/** Reads `GET /v1/retention` and shows it; a Vigil without retention shows that it has none. */
export async function loadRetention(): Promise<void> {
  try {
    state = await call<RetentionState>('GET', '/v1/retention');
  } catch (error) {
    if (error instanceof ApiError && (error.status === 401 || error.status === 403)) throw error;
    state = null;
    fill(
      'retention',
      error instanceof ApiError && error.status === 404
        ? none('Not available in this Vigil')
        : h('p', { class: 'empty' }, `Unavailable: ${message(error)}`),
    );
    syncControls();
    return;
  }
  renderRetention(state);
}

function renderRetention(s: RetentionState): void {
  fill('retention-note', `a pass every ${duration(s.intervalMs)}, ${s.batchSize} rows per batch`);
  fill('retention-last', lastPassLine(s));
  const last = new Map(s.lastPass?.tables.map((t) => [t.table, t.rows]));
  renderList('retention', 'Retention', Object.keys(s.keepMs), [
    { title: 'Table', cell: (table) => h('span', { class: 'mono' }, table) },
    { title: 'Kept', cell: (table) => keepText(s.keepMs[table] ?? null) },
    { title: 'Last pass', cell: (table) => last.get(table) ?? '—' },
    { title: 'Pruned since start', cell: (table) => s.prunedSinceStart[table] ?? 0 },
    // Counting is a dry run, an admin action: a viewer gets no column it could never fill.
    ...(s.canPrune
      ? [{ title: 'Prunable now', cell: (table: string) => prunable?.get(table) ?? '—' }]
      : []),
  ]);
  syncControls();
}

function lastPassLine(s: RetentionState): (Node | string)[] {
  const passed = s.lastPass;
  const line: (Node | string)[] = [];
  if (s.running) line.push(stateTag('pass under way', 'warn'), ' ');
  if (passed === null) {
    line.push('No pass has run in this service since it started.');
  } else if (passed.skipped) {
    line.push('Last pass skipped: another replica was pruning.');
  } else {
    line.push(
      'Last pass ',
      time(passed.at, relative(passed.at, clock())),
      `: deleted ${rowsText(sum(passed.tables))}.`,
    );
  }
  return line;
}

/** Buttons for the admin only; both wait while a pass (or a count) is under way. */
function syncControls(): void {
  const admin = state?.canPrune === true;
  byId('retention-actions').hidden = !admin;
  byId('retention-viewer').hidden = admin || state === null;
  if (!admin) byId('retention-confirm').hidden = true;
  byId<HTMLButtonElement>('retention-count').disabled = busy;
  byId<HTMLButtonElement>('retention-prune').disabled = busy || state?.running === true;
}

/** Runs one POST with the buttons disabled, then re-reads the panel. */
async function act(dryRun: boolean): Promise<void> {
  busy = true;
  syncControls();
  const button = byId(dryRun ? 'retention-count' : 'retention-prune');
  button.setAttribute('aria-busy', 'true');
  fill('retention-status', dryRun ? 'Counting prunable rows…' : 'Pruning…');
  try {
    const report = await call<PruneReport>('POST', '/v1/retention/prune', { dryRun });
    fill('retention-status', reportLine(report));
    if (!report.skipped) {
      prunable = dryRun ? new Map(report.tables.map((t) => [t.table, t.rows])) : null;
    }
  } catch (error) {
    fill(
      'retention-status',
      stateTag('failed', 'bad'),
      ` ${dryRun ? 'The count' : 'The prune'} failed: ${message(error)}`,
    );
  } finally {
    busy = false;
    button.removeAttribute('aria-busy');
    await loadRetention().catch(() => syncControls());
    if (document.activeElement === document.body) button.focus();
  }
}

function reportLine(report: PruneReport): (Node | string)[] {
  if (report.skipped) {
    return [
      stateTag('skipped', 'warn'),
      ' Another replica is pruning right now (it holds the pass); nothing was done here.',
    ];
  }
  const total = sum(report.tables);
  const each = report.tables
    .filter((t) => t.rows > 0)
    .map((t) => `${t.table} ${t.rows}`)
    .join(', ');
  if (report.dryRun) {
    return [
      `Dry run: ${rowsText(total)} prunable now${each ? ` (${each})` : ''}; nothing deleted.`,
    ];
  }
  return [
    total === 0
      ? 'Pruned: nothing was past its retention.'
      : `Pruned ${rowsText(total)} (${each}).`,
  ];
}

/** The buttons, and the confirmation a pass needs: what it deletes cannot be brought back. */
export function wireRetention(now: () => number): void {
  clock = now;
  const confirm = byId('retention-confirm');
  const prune = byId<HTMLButtonElement>('retention-prune');
  const close = () => {
    confirm.hidden = true;
    prune.setAttribute('aria-expanded', 'false');
  };
  byId('retention-count').addEventListener('click', () => void act(true));
  prune.addEventListener('click', () => {
    confirm.hidden = false;
    prune.setAttribute('aria-expanded', 'true');
    byId('retention-cancel').focus();
  });
  byId('retention-cancel').addEventListener('click', () => {
    close();
    prune.focus();
  });
  byId('retention-confirm-prune').addEventListener('click', () => {
    close();
    void act(false);
  });
  confirm.addEventListener('keydown', (event) => {
    if (event.key !== 'Escape') return;
    close();
    prune.focus();
  });
}
