/**
 * The dashboard in a real browser (Debian's chromium, headless) against the real `vigil serve`
 * binary (run `npm run build` first: it builds dist/ and dist/web). Runners are real processes
 * killed with real signals; the page is never reloaded while it is expected to change.
 */
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { chromium } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config.js';
import { systemClock } from '../src/runtime/clock.js';
import { EventBus } from '../src/runtime/events.js';
import { Ledger } from '../src/runtime/ledger.js';
import { openSqliteStore } from '../src/stores/sqlite.js';
import { tempDir } from './helpers.js';
import type { VigilProcess } from './process-helpers.js';
import { ROOT, api, startVigil, until } from './process-helpers.js';
import { lowContrastText } from './browser-contrast.js';
import { CHROMIUM, hasChromium } from './chromium.js';

const TOKEN = 'dashboard-admin-token-0123';

let browser: Browser;
let dir: string;
let cleanup: () => void;
let vigil: VigilProcess | undefined;
let page: Page | undefined;
const children: ChildProcess[] = [];

beforeAll(async () => {
  if (!hasChromium) return;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
});
afterAll(async () => {
  await browser?.close();
});
afterEach(async () => {
  for (const child of children) child.kill('SIGKILL');
  children.length = 0;
  await page?.context().close();
  page = undefined;
  await vigil?.stop();
  vigil = undefined;
  cleanup?.();
});

/**
 * `vigil serve` on a fresh SQLite file. The safety-net sweep runs hourly, so only deadlines the
 * service was told about (through its API) are swept: a row written straight to the database
 * stays overdue for a dry run to find.
 */
async function serve(env: Record<string, string> = {}, yaml = ''): Promise<VigilProcess> {
  ({ dir, cleanup } = tempDir());
  writeFileSync(join(dir, 'vigil.yaml'), `sweep:\n  interval: 1h\n${yaml}`);
  vigil = await startVigil(dir, { VIGIL_DATABASE_URL: `sqlite:${join(dir, 'vigil.db')}`, ...env });
  return vigil;
}

async function open(url: string, viewport = { width: 1280, height: 800 }): Promise<Page> {
  const context = await browser.newContext({ viewport });
  page = await context.newPage();
  await page.goto(url);
  return page;
}

/** A runner process on the SDK: registers `id`, beats from its liveness thread, works forever. */
function spawnRunner(url: string, id: string): ChildProcess {
  const script = join(dir, `runner-${id}.mjs`);
  writeFileSync(
    script,
    `import { VigilClient } from ${JSON.stringify(`${ROOT}dist/sdk/index.js`)};
     const client = new VigilClient({ url: ${JSON.stringify(url)}, token: ${JSON.stringify(TOKEN)} });
     await client.run({ id: ${JSON.stringify(id)}, kind: 'browser-e2e', owner: 'box-1', limits: { heartbeat: '1s' } },
       () => new Promise(() => {}));`,
  );
  const child = spawn(process.execPath, [script], { stdio: ['ignore', 'inherit', 'inherit'] });
  children.push(child);
  return child;
}

/**
 * An overdue execution the service does not know about: written straight to the database (as
 * `vigil register` does) with a 100 ms heartbeat limit, after the service has armed its scheduler
 * on the empty database (it does so before it says it listens). Returns once a dry run sees it.
 */
async function overdueBehindTheService(url: string, id: string): Promise<void> {
  expect((await api(url, 'GET', '/healthz')).status).toBe(200);
  const store = openSqliteStore(join(dir, 'vigil.db'));
  try {
    const ledger = new Ledger(store, parseConfig({}), systemClock, { events: new EventBus() });
    await ledger.register({ id, kind: 'nightly', owner: 'box-2', limits: { heartbeat: '100ms' } });
  } finally {
    await store.close();
  }
  const dryRun = () =>
    fetch(`${url}/v1/sweeps`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      body: '{"dryRun":true}',
    }).then((r) => r.json() as Promise<any>);
  await until(async () => (await dryRun()).decisions?.some((d: any) => d.executionId === id), {
    what: `${id} to be past its deadline`,
  });
}

const text = (p: Page, selector: string) => p.locator(selector).innerText();

describe.runIf(hasChromium)('the dashboard in a browser', () => {
  it('asks for the token, then shows a runner killed with SIGKILL as remediated without a reload', async () => {
    const { url } = await serve({ VIGIL_TOKEN: TOKEN });
    const p = await open(url);

    // No token yet: the form, not an error; a wrong token is refused with a message.
    await p.getByLabel('Admin token').fill('not-the-token');
    await p.getByRole('button', { name: 'Connect' }).click();
    await expect.poll(() => text(p, '#login-error')).toContain('That token was refused');
    await p.getByLabel('Admin token').fill(TOKEN);
    await p.getByRole('button', { name: 'Connect' }).click();
    await p.locator('#connection[data-state="live"]').waitFor();
    expect(await p.evaluate(() => (globalThis as any).sessionStorage.getItem('vigil.token'))).toBe(
      TOKEN,
    );
    expect(p.url()).not.toContain(TOKEN);

    const runner = spawnRunner(url, 'victim');
    // The running list shows it with its time left (re-read every 5 s).
    const row = p.locator('#due .due-item[data-id="victim"]');
    await row.waitFor({ timeout: 15_000 });
    expect(await row.innerText()).toMatch(/left|overdue/);
    expect(await row.innerText()).toContain('on heartbeat limit');

    // Marks this document: a reload would lose the mark.
    await p.evaluate(() => ((globalThis as any).notReloaded = true));
    runner.kill('SIGKILL');

    const remediation = p.locator('#remediations .remediation[data-execution="victim"]');
    await remediation.waitFor({ timeout: 20_000 });
    expect(await remediation.innerText()).toMatch(/heartbeat lost[\s\S]*no heartbeat for/);
    await expect
      .poll(() => text(p, '#activity'))
      .toMatch(/execution:remediated victim — no heartbeat for/);
    await expect.poll(() => p.locator('#due .due-item[data-id="victim"]').count()).toBe(0);
    expect(await text(p, '#counts')).toMatch(/1\s*Failed/);
    expect(await p.evaluate(() => (globalThis as any).notReloaded)).toBe(true);

    // The audit behind it, through the same API.
    const audit = await fetch(`${url}/v1/remediations?executionId=victim`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(((await audit.json()) as any).items[0]).toMatchObject({ verdict: 'heartbeat_lost' });
  });

  it('the dry-run button shows what Vigil would do, and changes nothing', async () => {
    const { url } = await serve();
    await overdueBehindTheService(url, 'overdue-1');
    const p = await open(url);
    await p.locator('#connection[data-state="live"]').waitFor();

    await p.getByRole('button', { name: 'Dry run now' }).click();

    const decision = p.locator('#dry-result tbody tr', { hasText: 'overdue-1' });
    await decision.waitFor();
    expect(await decision.innerText()).toMatch(/overdue-1\s+heartbeat lost\s+fail\s+dry run/);
    expect(await text(p, '#dry-status')).toContain('1 decision; nothing was changed');
    expect((await api(url, 'GET', '/v1/executions/overdue-1')).json.status).toBe('running');
  });

  it('keyboard only: Tab reaches the dry-run button with a visible focus ring, Enter runs it', async () => {
    const { url } = await serve();
    await overdueBehindTheService(url, 'overdue-2');
    const p = await open(url);
    await p.locator('#connection[data-state="live"]').waitFor();

    const focused = () => p.evaluate(() => (globalThis as any).document.activeElement?.id ?? '');
    let tabs = 0;
    while ((await focused()) !== 'dry-run') {
      expect(tabs++, 'Tab presses before the dry-run button').toBeLessThan(40);
      await p.keyboard.press('Tab');
    }
    const outline = await p.evaluate(() => {
      const g = globalThis as any;
      const style = g.getComputedStyle(g.document.activeElement);
      return { style: style.outlineStyle, width: parseFloat(style.outlineWidth) };
    });
    expect(outline.style).not.toBe('none');
    expect(outline.width).toBeGreaterThanOrEqual(2);

    await p.keyboard.press('Enter');
    await p.locator('#dry-result tbody tr', { hasText: 'overdue-2' }).waitFor();
    expect(await focused()).toBe('dry-run');
  });

  it('"Stuck most often" groups the audit for the chosen window, and follows a sweep live', async () => {
    const { url } = await serve();
    // Three days ago an archive job got stuck: outside the default window, inside a week.
    const store = openSqliteStore(join(dir, 'vigil.db'));
    const at = Date.now() - 3 * 86_400_000;
    await store.recordRemediations([
      {
        id: 'old-1',
        sweepId: null,
        at,
        executionId: 'archive-1',
        attempt: 1,
        kind: 'archive',
        owner: 'box-9',
        verdict: 'run_timeout',
        action: 'fail',
        reason: 'ran 2h, limit 1h',
        evidence: { startedAt: at - 2 * 3_600_000, deadlineAt: at - 3_600_000 },
        steps: [],
        outcome: 'remediated',
        dryRun: false,
      },
    ]);
    await store.close();
    await overdueBehindTheService(url, 'stats-1');
    const p = await open(url);
    await p.locator('#connection[data-state="live"]').waitFor();
    await expect.poll(() => text(p, '#stats')).toBe('Nothing stuck in the last 24 hours');

    // A real sweep ends it; the panel follows the event without a reload.
    expect((await api(url, 'POST', '/v1/sweeps', {})).status).toBe(200);
    const nightly = p.locator('#stats tbody tr', { hasText: 'nightly' });
    await nightly.waitFor({ timeout: 15_000 });
    expect(await nightly.innerText()).toMatch(/^nightly\s+1\s+1\s+0\s+0\s+0\s+.*heartbeat lost 1$/);
    expect(await p.locator('#stats tbody tr').count()).toBe(1);

    await p.locator('#stats-window').selectOption('7d');
    const archive = p.locator('#stats tbody tr', { hasText: 'archive' });
    await archive.waitFor();
    expect(await archive.innerText()).toMatch(
      /^archive\s+1\s+1\s+.*2h \/ 2h\s+1h\s+run timeout 1$/,
    );
    expect(await text(p, '#stats-total')).toBe('2 stuck in the last 7 days');

    await p.locator('#stats-by').selectOption('owner');
    await p.locator('#stats tbody tr', { hasText: 'box-9' }).waitFor();
    expect(await p.locator('#stats thead').innerText()).toMatch(/^owner\s+stuck/i);
  });

  it('"Stuck most often" offers the labels mapped tables keep, and groups by one', async () => {
    // A mapped table that keeps actor_id with its decisions (its database is never read here).
    const yaml = `tables:
  interactions:
    database: sqlite:app.db
    table: interactions
    id: id
    status: { column: status, running: running, failed: failed, succeeded: done }
    startedAt: started_at
    labels: [actor_id]
`;
    const { url } = await serve({}, yaml);
    const store = openSqliteStore(join(dir, 'vigil.db'));
    const at = Date.now() - 60_000;
    await store.recordRemediations(
      ['7', '7', '9'].map((actor, i) => ({
        id: `row-${String(i)}`,
        sweepId: null,
        at,
        executionId: `interactions:${String(i)}`,
        attempt: 1,
        kind: 'interactions',
        owner: null,
        verdict: 'run_timeout' as const,
        action: 'fail',
        reason: 'ran 20m, limit 15m',
        evidence: { source: 'interactions', startedAt: at - 20 * 60_000 },
        labels: { actor_id: actor },
        steps: [],
        outcome: 'remediated' as const,
        dryRun: false,
      })),
    );
    await store.close();
    const p = await open(url);
    await p.locator('#stats-by option[value="label:actor_id"]').waitFor({ state: 'attached' });
    await p.locator('#stats-by').selectOption('label:actor_id');
    const seven = p
      .locator('#stats tbody tr')
      .filter({ has: p.locator('td:first-child', { hasText: /^7$/ }) });
    await seven.waitFor();
    expect(await p.locator('#stats thead').innerText()).toMatch(/^actor_id\s+stuck/i);
    expect(await seven.innerText()).toMatch(/^7\s+2\s+2\s/);
  });

  it('panels without an API or without rows say "None configured"; a phone gets no sideways scroll', async () => {
    const { url } = await serve();
    const p = await open(url, { width: 390, height: 844 });
    await p.locator('#connection[data-state="live"]').waitFor();
    for (const panel of [
      'owners',
      'processes',
      'probes',
      'operations',
      'schedules',
      'notifications',
    ]) {
      await expect.poll(() => text(p, `#${panel}`), { message: panel }).toBe('None configured');
    }
    expect(await text(p, '#sweep')).toMatch(/Finished|No sweep has run yet/);
    expect(await text(p, '#footer-text')).not.toContain('Could not');
    const overflow = await p.evaluate(() => {
      const root = (globalThis as any).document.documentElement;
      return root.scrollWidth - root.clientWidth;
    });
    expect(overflow).toBe(0);
  });

  it('the Schedules panel shows a missed due time without a reload', async () => {
    const { url } = await serve({}, 'schedules:\n  tick:\n    every: 2s\n    grace: 0s\n');
    const p = await open(url);
    await p.locator('#connection[data-state="live"]').waitFor();
    const row = p.locator('#schedules tbody tr', { hasText: 'tick' });
    await row.waitFor();
    expect(await row.innerText()).toContain('every 2s');
    expect(await row.innerText()).toContain('vigil.yaml');
    // No run ever starts: the next due time is judged missed, and the event reloads the panel.
    await row.locator('.tag', { hasText: 'missed' }).waitFor();
    const fullText = await row.innerText();
    // The latest misses, relative to now ("just now", "2.1s ago"), not "—" for none.
    expect(fullText.split('\t').at(-1)).toMatch(/ago|just now/);
    expect(await text(p, '#footer-text')).not.toContain('Could not');
  });

  it('every piece of text has a contrast of at least 4.5:1 against its background', async () => {
    const { url } = await serve({ VIGIL_TOKEN: TOKEN });
    const p = await open(url);
    await p.getByLabel('Admin token').fill(TOKEN);
    await p.getByRole('button', { name: 'Connect' }).click();
    await p.locator('#connection[data-state="live"]').waitFor();
    await overdueBehindTheService(url, 'contrast-1');
    await p.getByRole('button', { name: 'Dry run now' }).click();
    await p.locator('#dry-result tbody tr').waitFor();
    const failures = await p.evaluate(lowContrastText);
    expect(failures).toEqual([]);
  });
});
