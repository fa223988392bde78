import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config.js';
import type { RunningServer } from '../src/http/server.js';
import { startServer } from '../src/http/server.js';
import { FakeClock } from '../src/runtime/clock.js';
import type { SqlStore } from '../src/stores/sql-store.js';
import { openSqliteStore } from '../src/stores/sqlite.js';
import { M, T0, tempDir } from './helpers.js';
import type { EventStream } from './process-helpers.js';
import { api, subscribe, until } from './process-helpers.js';

let server: RunningServer | undefined;
let store: SqlStore | undefined;
let stream: EventStream | undefined;
let cleanup = () => undefined as void;

afterEach(async () => {
  stream?.close();
  await server?.close();
  await store?.close();
  cleanup();
});

describe('the event stream', () => {
  it('delivers every event of a sweep that ends 2,000 executions at once', async () => {
    const dir = tempDir();
    cleanup = dir.cleanup;
    store = openSqliteStore(join(dir.dir, 'vigil.db'));
    await store.migrate();
    const clock = new FakeClock(T0);
    server = await startServer({ store, config: parseConfig({}, { VIGIL_PORT: '0' }), clock });
    for (let i = 0; i < 2_000; i++)
      await server.service.ledger.register({ id: `mass-${i}`, kind: 'k' });
    stream = await subscribe(server.url);

    clock.set(T0 + 20 * M);
    const sweep = await api(server.url, 'POST', '/v1/sweeps', {});
    expect(sweep.json.counts.remediated).toBe(2_000);

    const remediated = () => stream!.events.filter((e) => e.type === 'execution:remediated').length;
    await until(
      () => remediated() === 2_000 && stream!.events.some((e) => e.type === 'sweep:completed'),
      {
        what: `2,000 execution:remediated events (got ${remediated()})`,
        timeoutMs: 30_000,
      },
    );
    expect(stream.events.filter((e) => e.type === 'execution:stuck')).toHaveLength(2_000);
    expect(stream.events[0]!.data).toMatchObject({
      type: 'execution:stuck',
      at: new Date(T0 + 20 * M).toISOString(),
    });
  });

  it('closing the server ends open streams instead of waiting for their clients', async () => {
    const dir = tempDir();
    cleanup = dir.cleanup;
    store = openSqliteStore(join(dir.dir, 'vigil.db'));
    await store.migrate();
    server = await startServer({
      store,
      config: parseConfig({}, { VIGIL_PORT: '0' }),
      clock: new FakeClock(T0),
    });
    stream = await subscribe(server.url);
    const closing = server.close();
    server = undefined;
    await closing;
  });
});
