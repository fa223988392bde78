/**
 * The pause through the real binary: `vigil pause` written while no service runs holds back the
 * end of a stuck execution in `vigil serve`, survives a restart of the service (it is kept in the
 * store), shows in /healthz and /metrics, and `vigil resume` lets the next sweep act.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { tempDir } from './helpers.js';
import type { VigilProcess } from './process-helpers.js';
import { api, runVigil, startVigil, until } from './process-helpers.js';
import { ensureBuilt } from './runner-helpers.js';

let dir: string;
let cleanup: () => void;
let vigil: VigilProcess | undefined;

beforeAll(async () => {
  await ensureBuilt();
}, 240_000);
beforeEach(() => {
  ({ dir, cleanup } = tempDir());
  writeFileSync(join(dir, 'vigil.yaml'), 'sweep:\n  interval: 200ms\n');
});
afterEach(async () => {
  await vigil?.stop();
  vigil = undefined;
  cleanup();
});

const env = () => ({ VIGIL_DATABASE_URL: `sqlite:${join(dir, 'vigil.db')}` });

it('a pause survives a restart of vigil serve; resume lets the next sweep end what is still stuck', async () => {
  const paused = await runVigil(['pause', '--comment', 'db failover', '--by', 'alice'], {
    cwd: dir,
    env: env(),
  });
  expect(paused.code).toBe(0);
  expect(paused.stdout).toContain('by alice: db failover');

  vigil = await startVigil(dir, env());
  const created = await api(vigil.url, 'POST', '/v1/executions', {
    id: 'stuck',
    kind: 'e2e',
    limits: { heartbeat: '300ms' },
  });
  expect(created.status).toBe(201);
  const silenced = async () =>
    (await api(vigil!.url, 'GET', '/v1/remediations?executionId=stuck')).json.items as {
      outcome: string;
      evidence: Record<string, unknown>;
    }[];
  const [held] = await until(
    async () => {
      const items = await silenced();
      return items.length > 0 ? items : undefined;
    },
    { what: 'the held decision to be audited' },
  );
  expect(held).toMatchObject({
    outcome: 'silenced',
    evidence: { heldBy: 'pause', pausedBy: 'alice' },
  });
  expect((await api(vigil.url, 'GET', '/healthz')).json).toMatchObject({
    status: 'ok',
    paused: true,
  });
  const metrics = await fetch(`${vigil.url}/metrics`).then((r) => r.text());
  expect(metrics).toMatch(/^vigil_paused\{replica="[^"]*"\} 1$/m);

  expect(await vigil.stop()).toBe(0);
  vigil = await startVigil(dir, env());
  expect((await api(vigil.url, 'GET', '/healthz')).json).toMatchObject({ paused: true });
  // Sweeps go on after the restart, and still hold it.
  const before = (await api(vigil.url, 'GET', '/v1/sweeps/latest')).json as { id?: string };
  await until(
    async () => {
      const latest = (await api(vigil!.url, 'GET', '/v1/sweeps/latest')).json as { id?: string };
      return latest.id !== undefined && latest.id !== before.id ? latest : undefined;
    },
    { what: 'a sweep after the restart' },
  );
  expect((await api(vigil.url, 'GET', '/v1/executions/stuck')).json).toMatchObject({
    status: 'running',
  });

  expect((await runVigil(['resume'], { cwd: dir, env: env() })).stdout).toContain('resumed');
  const ended = await until(
    async () => {
      const e = (await api(vigil!.url, 'GET', '/v1/executions/stuck')).json as { status: string };
      return e.status === 'running' ? undefined : e;
    },
    { what: 'the execution to be ended after resume' },
  );
  expect(ended).toMatchObject({ status: 'failed', verdict: 'heartbeat_lost' });
  expect((await api(vigil.url, 'GET', '/healthz')).json).toMatchObject({ paused: false });
}, 60_000);
