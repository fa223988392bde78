import { unlinkSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from './helpers.js';
import type { VigilProcess } from './process-helpers.js';
import { api, startVigil } from './process-helpers.js';

/**
 * The SQLite file deleted under a running `vigil serve`: SQLite keeps writing into the unlinked
 * file, which a restart will never find. Vigil notices (the path no longer names the file it
 * opened), says so on /healthz and refuses writes with 503 instead of acknowledging them.
 */
describe('the SQLite file deleted under vigil serve', () => {
  const { dir, cleanup } = tempDir();
  let vigil: VigilProcess | undefined;

  afterAll(async () => {
    await vigil?.stop('SIGKILL');
    cleanup();
  });

  it('goes unhealthy and refuses writes with 503 store_unavailable', async () => {
    const file = `${dir}/vigil.db`;
    vigil = await startVigil(dir, { VIGIL_DATABASE_URL: `sqlite:${file}` });
    const url = vigil.url;
    expect((await api(url, 'POST', '/v1/executions', { id: 'before', kind: 'k' })).status).toBe(
      201,
    );
    const healthy = await api(url, 'GET', '/healthz');
    expect(healthy.status).toBe(200);

    unlinkSync(file);

    const health = await api(url, 'GET', '/healthz');
    expect(health.status).toBe(503);
    expect(healthy.json).toMatchObject({ database: { up: true }, slots: { store: 'database' } });
    expect(health.json).toMatchObject({
      status: 'unhealthy',
      storeReachable: false,
      database: { up: false, error: expect.stringMatching(/deleted/) },
    });
    const created = await api(url, 'POST', '/v1/executions', { id: 'after', kind: 'k' });
    expect(created.status).toBe(503);
    expect(created.json).toMatchObject({
      error: { code: 'store_unavailable', message: expect.stringContaining(file) },
    });
    const beat = await api(url, 'POST', '/v1/executions/before/heartbeat', { attempt: 1 });
    expect(beat.status).toBe(503);
    const completed = await api(url, 'POST', '/v1/executions/before/complete', { attempt: 1 });
    expect(completed.status).toBe(503);
    // Still unhealthy a moment later: nothing a read or a sweep does brings it back.
    expect((await api(url, 'GET', '/healthz')).status).toBe(503);
    expect(vigil.child.exitCode).toBeNull();
  });
});
