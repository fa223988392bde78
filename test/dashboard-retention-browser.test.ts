/**
 * The dashboard's Retention panel in a real browser (Debian's chromium, headless) against the real
 * `vigil serve` binary with a custom `retention:` (run `npm run build` first). Old rows are written
 * straight to its SQLite file; "another replica" is a `retention` lease taken in that file.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { chromium } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AttemptEnd } from '../src/ports/records.js';
import { openSqliteStore } from '../src/stores/sqlite.js';
import { lowContrastText } from './browser-contrast.js';
import { tempDir } from './helpers.js';
import type { VigilProcess } from './process-helpers.js';
import { startVigil } from './process-helpers.js';
import { CHROMIUM, hasChromium } from './chromium.js';

const ADMIN = 'retention-admin-token-0123';
const VIEWER = 'retention-viewer-token-0123';
const D = 86_400_000;
/** Kept 2 days, the audit forever, sweeps 36 hours; a pass a week, so none runs by itself. */
const YAML = `sweep:
  interval: 1h
retention:
  executions: 2d
  remediations: forever
  sweeps: 36h
  interval: 7d
auth:
  viewers:
    - { name: ops, token: ${VIEWER} }
`;
const failed: AttemptEnd = {
  status: 'failed',
  verdict: 'run_timeout',
  reason: 'ran past its run limit',
  endedBy: 'watchdog',
  retry: null,
};

let browser: Browser;
let cleanup: (() => void) | undefined;
let vigil: VigilProcess | undefined;
let page: Page | undefined;

beforeAll(async () => {
  if (!hasChromium) return;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
});
afterAll(async () => {
  await browser?.close();
});
afterEach(async () => {
  await page?.context().close();
  page = undefined;
  await vigil?.stop();
  vigil = undefined;
  cleanup?.();
});

/** `vigil serve` with the admin token, a viewer token and YAML's retention; returns its file. */
async function serve(extraYaml = ''): Promise<{ url: string; db: string }> {
  const temp = tempDir();
  cleanup = temp.cleanup;
  const db = join(temp.dir, 'vigil.db');
  writeFileSync(join(temp.dir, 'vigil.yaml'), YAML + extraYaml);
  vigil = await startVigil(temp.dir, { VIGIL_DATABASE_URL: `sqlite:${db}`, VIGIL_TOKEN: ADMIN });
  return { url: vigil.url, db };
}

/** Opens the dashboard and connects with `token`; resolves once the Retention panel has rows. */
async function connect(url: string, token: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  await page.goto(url);
  await page.getByLabel('Admin token').fill(token);
  await page.getByRole('button', { name: 'Connect' }).click();
  await page.locator('#connection[data-state="live"]').waitFor();
  await page.locator('#retention tbody tr').first().waitFor();
  return page;
}

async function withStore<T>(
  db: string,
  work: (s: ReturnType<typeof openSqliteStore>) => Promise<T>,
) {
  const store = openSqliteStore(db);
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}

/** An execution created `age` ago and ended `endedAgo` ago, as the watchdog would end it. */
async function seedEnded(db: string, id: string, age: number, endedAgo: number): Promise<void> {
  await withStore(db, async (store) => {
    const now = Date.now();
    const limits = { run: 60_000, heartbeat: null, progress: null, queue: null };
    const execution = { id, kind: 'nightly', owner: null, parentId: null, limits, metadata: {} };
    await store.create({ ...execution, status: 'running' }, now - age);
    await store.endAttempt({ id, attempt: 1, status: 'running' }, failed, now - endedAgo);
  });
}

const row = (p: Page, table: string) =>
  p.locator('#retention tbody tr').filter({ has: p.locator('td:first-child', { hasText: table }) });
const status = (p: Page) => p.locator('#retention-status').innerText();
/** A POST straight to the service (not through the page); its status. */
const post = (url: string, path: string, body: object, token = ADMIN) =>
  fetch(`${url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  }).then((r) => r.status);
const execution = (url: string, id: string) =>
  fetch(`${url}/v1/executions/${id}`, { headers: { authorization: `Bearer ${ADMIN}` } }).then(
    (r) => r.status,
  );

describe.runIf(hasChromium)('the Retention panel in a browser', () => {
  it('shows vigil.yaml’s retention; the admin counts, is told when another replica prunes, then prunes old rows', async () => {
    const { url, db } = await serve();
    // Another replica holds the pass until the test lets it go.
    await withStore(db, (s) => s.acquireLease('retention', 'replica-b', Date.now(), D));
    await seedEnded(db, 'old-1', 5 * D, 4 * D);
    await seedEnded(db, 'old-2', 5 * D, 3 * D);
    await seedEnded(db, 'young-1', D, 3_600_000);
    const p = await connect(url, ADMIN);
    // The admin's page keeps every write control.
    expect(await p.getByRole('button', { name: 'Dry run now' }).isVisible()).toBe(true);
    expect(await p.locator('#silence-form').isVisible()).toBe(true);
    expect(await p.locator('#read-only').isVisible()).toBe(false);

    expect(await row(p, 'executions').innerText()).toMatch(/^executions\s+2 days\s+—\s+0\s+—$/);
    expect(await row(p, 'remediations').innerText()).toMatch(/^remediations\s+forever\s/);
    expect(await row(p, 'sweeps').innerText()).toMatch(/^sweeps\s+36 hours\s/);
    expect(await row(p, 'notifications').innerText()).toMatch(/^notifications\s+30 days\s/);
    expect(await p.locator('#retention-note').innerText()).toBe(
      'a pass every 7d, 1000 rows per batch',
    );
    expect(await p.locator('#retention-last').innerText()).toBe(
      'No pass has run in this service since it started.',
    );

    // A dry run counts what a pass would delete, and deletes nothing.
    await p.getByRole('button', { name: 'Count prunable now' }).click();
    await expect
      .poll(() => status(p))
      .toBe('Dry run: 2 rows prunable now (executions 2); nothing deleted.');
    await expect.poll(() => row(p, 'executions').innerText()).toMatch(/\s2$/);
    expect(await execution(url, 'old-1')).toBe(200);

    // Prune now asks first; Cancel does nothing.
    const confirm = p.locator('#retention-confirm');
    await p.getByRole('button', { name: 'Prune now' }).click();
    await confirm.waitFor();
    // Its text, danger button included, is as legible as the rest of the page.
    expect(await p.evaluate(lowContrastText)).toEqual([]);
    await p.getByRole('button', { name: 'Cancel' }).click();
    await confirm.waitFor({ state: 'hidden' });
    // The keyboard: focus lands on Cancel, Escape closes it and gives focus back to Prune now.
    await p.getByRole('button', { name: 'Prune now' }).click();
    expect(await p.evaluate(() => (globalThis as any).document.activeElement.id)).toBe(
      'retention-cancel',
    );
    await p.keyboard.press('Escape');
    await confirm.waitFor({ state: 'hidden' });
    expect(await p.evaluate(() => (globalThis as any).document.activeElement.id)).toBe(
      'retention-prune',
    );

    // While the other replica holds the pass, this one skips and says so.
    await p.getByRole('button', { name: 'Prune now' }).click();
    await p.getByRole('button', { name: 'Yes, prune now' }).click();
    await expect.poll(() => status(p)).toMatch(/^skipped Another replica is pruning right now/);
    expect(await execution(url, 'old-1')).toBe(200);

    // Its pass over: the request is held at the browser until the button is seen disabled.
    await withStore(db, (s) => s.releaseLease('retention', 'replica-b'));
    let send: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (send = resolve));
    await p.route('**/v1/retention/prune', async (route) => {
      await held;
      await route.continue();
    });
    await p.getByRole('button', { name: 'Prune now' }).click();
    await p.getByRole('button', { name: 'Yes, prune now' }).click();
    await expect.poll(() => status(p)).toBe('Pruning…');
    expect(await p.locator('#retention-prune').isDisabled()).toBe(true);
    expect(await p.locator('#retention-count').isDisabled()).toBe(true);
    send();

    await expect.poll(() => status(p)).toBe('Pruned 2 rows (executions 2).');
    await expect
      .poll(() => row(p, 'executions').innerText())
      .toMatch(/^executions\s+2 days\s+2\s+2\s+—$/);
    expect(await p.locator('#retention-last').innerText()).toMatch(
      /^Last pass .+: deleted 2 rows\.$/,
    );
    expect(await p.locator('#retention-prune').isDisabled()).toBe(false);
    expect(await execution(url, 'old-1')).toBe(404);
    expect(await execution(url, 'old-2')).toBe(404);
    expect(await execution(url, 'young-1')).toBe(200);
  });

  it('a viewer token reads every panel, schedules, silences and the pause included, and sees no write control', async () => {
    const { url } = await serve(`schedules:
  nightly-export: { cron: '0 3 * * *', kind: export }
silences:
  - matchers: { kind: backup }
    startsAt: 2026-01-01T00:00:00Z
    endsAt: 2099-01-01T00:00:00Z
    comment: from the file
`);
    // What the admin set up: a silence through the API, and the pause.
    const silence = {
      matchers: { owner: 'billing' },
      duration: '2h',
      createdBy: 'ops',
      comment: 'deploy',
    };
    expect(await post(url, '/v1/silences', silence)).toBe(201);
    expect(await post(url, '/v1/pause', { by: 'ops', comment: 'migration' })).toBe(200);
    const p = await connect(url, VIEWER);

    // Retention: the settings and totals, no count or prune control.
    expect(await row(p, 'executions').innerText()).toMatch(/^executions\s+2 days\s+—\s+0$/);
    expect(await p.locator('#retention thead').innerText()).not.toContain('Prunable');
    expect(await p.locator('#retention-viewer').innerText()).toContain('need the admin token');
    expect(await p.locator('#retention-actions').isVisible()).toBe(false);
    expect(await p.locator('#retention-confirm').isVisible()).toBe(false);

    // The schedules, the silences and the pause read, as the admin would see them.
    await expect.poll(() => p.locator('#schedules').innerText()).toContain('nightly-export');
    await expect.poll(() => p.locator('#silences tbody tr').count()).toBe(2);
    const silences = await p.locator('#silences').innerText();
    expect(silences).toContain('kind=backup');
    expect(silences).toContain('owner=billing');
    expect(silences).toContain('vigil.yaml');
    expect(await p.locator('#paused-banner').innerText()).toMatch(/^Paused: .*by ops: migration/);

    // No control it could not use: each write is the admin's, and says so.
    for (const name of [
      'Dry run now',
      'Count prunable now',
      'Prune now',
      'Yes, prune now',
      'Add',
      'Expire',
    ]) {
      expect(await p.getByRole('button', { name }).count(), name).toBe(0);
    }
    expect(await p.locator('#silence-form').isVisible()).toBe(false);
    expect(await p.locator('#silences-viewer').isVisible()).toBe(true);
    expect(await p.locator('#dry-run-viewer').isVisible()).toBe(true);
    expect(await p.locator('#read-only').innerText()).toBe('Read only');
    expect(await p.locator('#login').isVisible()).toBe(false);
    expect(await p.evaluate(lowContrastText)).toEqual([]);
    // Hidden is not allowed: a dry run asked for with this token is still refused.
    expect(await post(url, '/v1/sweeps', { dryRun: true }, VIEWER)).toBe(403);
  });
});
