/**
 * Silences, maintenance windows and the pause: the banner shown while Vigil is paused, the list of
 * silences not ended yet with an Expire button each, and the form that adds one. A viewer token
 * reads the banner and the list, without the buttons or the form (both are the admin's).
 */
import { ApiError, call } from './api.js';
import { byId, fill, h } from './dom.js';
import { canWrite } from './role.js';

export interface SilenceItem {
  id: string;
  matchers: Record<string, string[]>;
  startsAt: string;
  endsAt: string;
  createdBy: string;
  comment: string;
  maintenance: boolean;
  origin: 'store' | 'config';
  state: 'active' | 'pending' | 'expired';
}
interface PauseState {
  paused: boolean;
  since: string | null;
  by: string | null;
  comment: string | null;
}

const matcherText = (m: Record<string, string[]>) =>
  Object.entries(m)
    .map(([key, values]) => `${key}=${values.join(',')}`)
    .join(' ');

/** Loads and shows the pause banner and the silences; a Vigil without them shows nothing. */
export async function loadSilences(): Promise<void> {
  let pause: PauseState;
  let items: SilenceItem[];
  try {
    [pause, { items }] = await Promise.all([
      call<PauseState>('GET', '/v1/pause'),
      call<{ items: SilenceItem[] }>('GET', '/v1/silences'),
    ]);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return;
    // A token that may read the summary but not these: the rest of the page stays up without them.
    if (error instanceof ApiError && error.status === 403) {
      fill('silences', h('p', { class: 'empty' }, `Unavailable: ${error.message}`));
      byId('silence-form').hidden = true;
      return;
    }
    throw error;
  }
  byId('silence-form').hidden = !canWrite();
  const banner = byId('paused-banner');
  banner.hidden = !pause.paused;
  if (pause.paused) {
    fill(
      'paused-banner',
      h('strong', {}, 'Paused: '),
      `observing only, no destructive action anywhere, since ${new Date(pause.since ?? '').toLocaleString()} (by ${pause.by ?? '?'}${pause.comment ? `: ${pause.comment}` : ''}). Run "vigil resume" to act again.`,
    );
  }
  renderSilences(items);
}

function renderSilences(items: SilenceItem[]): void {
  if (items.length === 0) {
    fill('silences', h('p', { class: 'muted' }, 'No silences or maintenance windows.'));
    return;
  }
  fill(
    'silences',
    h(
      'table',
      { class: 'table' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ...['Type', 'Matches', 'State', 'Ends', 'By', 'Why', ''].map((t) => h('th', {}, t)),
        ),
      ),
      h(
        'tbody',
        {},
        ...items.map((s) =>
          h(
            'tr',
            { 'data-silence': s.id },
            h('td', {}, s.maintenance ? 'maintenance' : 'silence'),
            h('td', {}, h('code', {}, matcherText(s.matchers))),
            h('td', {}, s.state),
            h('td', {}, new Date(s.endsAt).toLocaleString()),
            h('td', {}, s.createdBy),
            h('td', {}, s.comment),
            h('td', {}, lastCell(s)),
          ),
        ),
      ),
    ),
  );
}

/** Expire for a silence the admin may end; where a vigil.yaml one comes from; nothing else. */
function lastCell(s: SilenceItem): HTMLElement | string {
  if (s.origin !== 'store') return h('span', { class: 'muted small' }, 'vigil.yaml');
  if (!canWrite()) return '';
  return h('button', { class: 'button', type: 'button', 'data-expire': s.id }, 'Expire');
}

/** The add form and the Expire buttons; `changed` reloads the list. */
export function wireSilences(changed: () => void): void {
  const status = byId('silence-status');
  byId('silences').addEventListener('click', (event) => {
    const id = (event.target as HTMLElement).closest('[data-expire]')?.getAttribute('data-expire');
    if (!id) return;
    void call('DELETE', `/v1/silences/${encodeURIComponent(id)}`)
      .then(() => {
        status.textContent = `Expired ${id}.`;
        changed();
      })
      .catch((error: unknown) => {
        status.textContent = error instanceof Error ? error.message : String(error);
      });
  });
  byId<HTMLFormElement>('silence-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const form = new FormData(event.target as HTMLFormElement);
    const text = (name: string) => {
      const value = form.get(name);
      return typeof value === 'string' ? value.trim() : '';
    };
    const matchers: Record<string, string[]> = {};
    for (const key of ['kind', 'owner', 'source', 'verdict']) {
      const value = text(key);
      if (value) matchers[key] = value.split(',').map((v) => v.trim());
    }
    void call('POST', '/v1/silences', {
      matchers,
      duration: text('duration'),
      createdBy: text('createdBy') || 'dashboard',
      comment: text('comment'),
      maintenance: form.get('maintenance') === 'on',
    })
      .then(() => {
        status.textContent = 'Added.';
        (event.target as HTMLFormElement).reset();
        changed();
      })
      .catch((error: unknown) => {
        status.textContent = error instanceof Error ? error.message : String(error);
      });
  });
}
