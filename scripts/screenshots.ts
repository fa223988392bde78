/**
 * Screenshots of the dashboard for the README (`npm run screenshots`): a day of history written
 * on a fake clock, then the real HTTP app on the system clock with a few runners in flight, shot
 * in Debian's chromium at 1280×800 and 390×844 into docs/screenshots/.
 *
 * The owner, process, probe, operation and notification APIs are built on other branches; while
 * this build lacks one, the script serves a few sample rows in its shape so the screenshots show
 * those panels as they will look. With the real API present, the real (empty) answer is shown.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { parseConfig } from '../src/config.js';
import { buildApp } from '../src/http/app.js';
import { FakeClock, systemClock } from '../src/runtime/clock.js';
import { EventBus } from '../src/runtime/events.js';
import { Ledger } from '../src/runtime/ledger.js';
import { Vigil } from '../src/app/vigil.js';
import { Sweeper } from '../src/runtime/sweep.js';
import { openSqliteStore } from '../src/stores/sqlite.js';

const OUT = fileURLToPath(new URL('../docs/screenshots/', import.meta.url));
const S = 1_000;
const M = 60 * S;
const H = 60 * M;

/** A seeded generator, so every run draws the same day. */
let seed = 7;
const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
const hex = () =>
  Math.floor(random() * 0xffff)
    .toString(16)
    .padStart(4, '0');

const OWNERS = ['gpu-box-1', 'gpu-box-2', 'worker-3'] as const;
const STUCK = {
  heartbeat_lost: { kind: 'embed', limits: { heartbeat: '30s' } },
  run_timeout: { kind: 'nightly-backup', limits: { run: '20m' } },
  no_progress: { kind: 'agent-run', limits: { progress: '5m' } },
  queue_timeout: { kind: 'report', limits: { queue: '10m' }, status: 'queued' },
} as const;

async function seedHistory(dbPath: string, end: number): Promise<void> {
  const store = openSqliteStore(dbPath);
  await store.migrate();
  const clock = new FakeClock(end - 24 * H);
  const config = parseConfig({});
  const events = new EventBus();
  const ledger = new Ledger(store, config, clock, { events });
  const sweeper = new Sweeper({ store, clock, config, events });
  while (clock.now() < end - 25 * M) {
    const hoursAgo = (end - clock.now()) / H;
    // An incident seven hours ago: gpu-box-2 loses its network and its runners go silent.
    const incident = hoursAgo > 6.5 && hoursAgo < 7.6;
    for (let i = 0, n = 2 + Math.floor(random() * 4); i < n; i++) {
      const id = `${pick(['embed', 'sync', 'render', 'agent'])}-${hex()}`;
      await ledger.register({
        id,
        kind: pick(['embed', 'agent-run', 'report']),
        owner: pick(OWNERS),
      });
      await ledger.complete(id, 1, { ok: true });
    }
    const stuck = incident ? 3 + Math.floor(random() * 3) : random() < 0.45 ? 1 : 0;
    for (let i = 0; i < stuck; i++) {
      const verdict = incident
        ? 'heartbeat_lost'
        : pick([
            'heartbeat_lost',
            'heartbeat_lost',
            'run_timeout',
            'no_progress',
            'queue_timeout',
          ] as const);
      const shape = STUCK[verdict];
      await ledger.register({
        id: `${shape.kind}-${hex()}`,
        owner: incident ? 'gpu-box-2' : pick(OWNERS),
        ...shape,
      });
    }
    clock.advance(20 * M + Math.floor(random() * 25 * M));
    await sweeper.sweep({ dryRun: false });
  }
  await store.close();
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-screenshots-'));
  const dbPath = join(dir, 'vigil.db');
  await seedHistory(dbPath, Date.now());

  const store = openSqliteStore(dbPath);
  const config = parseConfig({}, { VIGIL_PORT: '0' });
  // The service is not started: nothing is swept behind the screenshots' back.
  const vigil = new Vigil({ store, config, clock: systemClock, watchEventLoop: false });
  const { service } = vigil;
  const app = await buildApp({ vigil, store, config, clock: systemClock });
  sampleStatusRoutes(app);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/`;

  const live: [string, string, object][] = [
    ['embed-41c2', 'gpu-box-1', { heartbeat: '2s' }],
    ['agent-run-9a07', 'gpu-box-1', { heartbeat: '45s', progress: '5m' }],
    ['embed-77de', 'gpu-box-2', { heartbeat: '30s' }],
    ['nightly-backup', 'worker-3', { run: '2h', heartbeat: '10m' }],
    ['report-q3', 'worker-3', { run: '15m' }],
    ['agent-run-c5e1', 'gpu-box-1', { heartbeat: '2m' }],
  ];
  for (const [id, owner, limits] of live) {
    await service.ledger.register({
      id,
      kind: id.replace(/-[0-9a-f]{4}$|-q3$/, ''),
      owner,
      limits,
    });
  }
  // Let the first one run out of heartbeat so the dry run has something to decide.
  await new Promise((resolve) => setTimeout(resolve, 2_600));
  for (const [id] of live.slice(1)) await service.ledger.heartbeat([{ id, attempt: 1 }]);

  mkdirSync(OUT, { recursive: true });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox'],
  });
  try {
    const desktop = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await desktop.goto(url);
    await desktop.locator('#connection[data-state="live"]').waitFor();
    await desktop.locator('#owners table').waitFor();
    await desktop.screenshot({ path: join(OUT, 'desktop.png') });
    await desktop.screenshot({ path: join(OUT, 'desktop-full.png'), fullPage: true });
    await desktop.getByRole('button', { name: 'Dry run now' }).click();
    await desktop.locator('#dry-result table').waitFor();
    await desktop.evaluate(scrollTo('dry-title'));
    await desktop.screenshot({ path: join(OUT, 'desktop-dry-run.png') });

    const phone = await browser.newPage({
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
    });
    await phone.goto(url);
    await phone.locator('#owners table').waitFor();
    await phone.screenshot({ path: join(OUT, 'phone.png') });
    await phone.evaluate(scrollTo('timeline-title'));
    await phone.screenshot({ path: join(OUT, 'phone-timeline.png') });
    console.log(`screenshots written to ${OUT}`);
  } finally {
    await browser.close();
    await app.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Page code that scrolls the card holding this heading to the top of the viewport. */
const scrollTo = (id: string) =>
  `document.getElementById(${JSON.stringify(id)}).closest('section').scrollIntoView({ block: 'start' }); window.scrollBy(0, -12);`;

/** Sample rows for the status APIs this build does not have yet (see the note at the top). */
function sampleStatusRoutes(app: Awaited<ReturnType<typeof buildApp>>): void {
  const ago = (ms: number) => new Date(Date.now() - ms).toISOString();
  const samples: Record<string, unknown[]> = {
    '/v1/owners': [
      {
        name: 'gpu-box-1',
        reachable: true,
        lastCheckedAt: ago(4 * S),
        consecutiveUnknown: 0,
        breaker: 'closed',
        running: 3,
      },
      {
        name: 'gpu-box-2',
        reachable: false,
        lastCheckedAt: ago(4 * S),
        consecutiveUnknown: 3,
        breaker: 'open',
        running: 1,
      },
      {
        name: 'worker-3',
        reachable: true,
        lastCheckedAt: ago(9 * S),
        consecutiveUnknown: 0,
        breaker: 'closed',
        running: 2,
      },
    ],
    '/v1/processes': [
      {
        name: 'indexer',
        enabled: true,
        verdict: 'healthy',
        evidence: {},
        pid: 48213,
        consecutiveUnhealthy: 0,
        restarts: 0,
        lastCheckAt: ago(3 * S),
        nextRestartAt: null,
        gaveUp: false,
      },
      {
        name: 'ingest',
        enabled: true,
        verdict: 'no_heartbeat',
        evidence: {},
        pid: 48301,
        consecutiveUnhealthy: 2,
        restarts: 1,
        lastCheckAt: ago(3 * S),
        nextRestartAt: new Date(Date.now() + 20 * S).toISOString(),
        gaveUp: false,
      },
      {
        name: 'thumbnailer',
        enabled: false,
        verdict: null,
        evidence: {},
        pid: null,
        consecutiveUnhealthy: 0,
        restarts: 0,
        lastCheckAt: null,
        nextRestartAt: null,
        gaveUp: false,
      },
    ],
    '/v1/probes': [
      {
        name: 'api',
        url: 'http://api.internal/health',
        state: 'passing',
        consecutiveFailures: 0,
        consecutiveSuccesses: 120,
        lastCheckAt: ago(6 * S),
        lastError: null,
      },
      {
        name: 'search',
        url: 'http://search.internal/health',
        state: 'failing',
        consecutiveFailures: 4,
        consecutiveSuccesses: 0,
        lastCheckAt: ago(2 * S),
        lastError: 'HTTP 503',
      },
    ],
    '/v1/operations': [
      {
        source: 'render-api',
        id: 'op-1842',
        status: 'processing',
        lastUpdateAt: ago(40 * S),
        stuck: false,
        stuckForMs: null,
      },
      {
        source: 'render-api',
        id: 'op-1839',
        status: 'processing',
        lastUpdateAt: ago(26 * M),
        stuck: true,
        stuckForMs: 11 * M,
      },
    ],
    '/v1/notifications': [
      {
        id: 'n3',
        channel: 'slack',
        eventType: 'breaker:opened',
        status: 'delivered',
        attempts: 1,
        lastError: null,
        createdAt: ago(7 * H),
        deliveredAt: ago(7 * H),
      },
      {
        id: 'n2',
        channel: 'email',
        eventType: 'execution:dead',
        status: 'failed',
        attempts: 5,
        lastError: 'SMTP 451 try later',
        createdAt: ago(7 * H),
        deliveredAt: null,
      },
      {
        id: 'n1',
        channel: 'webhook',
        eventType: 'execution:remediated',
        status: 'delivered',
        attempts: 2,
        lastError: null,
        createdAt: ago(9 * H),
        deliveredAt: ago(9 * H),
      },
    ],
  };
  for (const [path, items] of Object.entries(samples)) {
    if (!app.hasRoute({ method: 'GET', url: path })) app.get(path, async () => ({ items }));
  }
}

await main();
