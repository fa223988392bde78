/**
 * What the token in use may do, from `GET /v1/whoami`. A viewer token reads everything and writes
 * nothing, so the page shows it no control the service would refuse: elements marked
 * `data-write` are hidden for it, those marked `data-read-only` (what it sees instead) shown.
 */
import { ApiError, call } from './api.js';

export type Role = 'admin' | 'viewer' | 'runner';

let role: Role = 'admin';

/** Whether this token may write (the admin's); panels drawing buttons of their own ask this. */
export const canWrite = (): boolean => role === 'admin';

/** Asks the service who this token is, then shows or hides the page's write controls. */
export async function loadRole(): Promise<void> {
  try {
    role = (await call<{ role: Role }>('GET', '/v1/whoami')).role;
  } catch (error) {
    // A Vigil without the route: offer the controls, as before it existed; the service still judges.
    if (!(error instanceof ApiError && error.status === 404)) throw error;
    role = 'admin';
  }
  for (const element of document.querySelectorAll<HTMLElement>('[data-write]')) {
    element.hidden = !canWrite();
  }
  for (const element of document.querySelectorAll<HTMLElement>('[data-read-only]')) {
    element.hidden = canWrite();
  }
}
