import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tempDir } from './helpers.js';
import type { EventStream, VigilProcess } from './process-helpers.js';
import { api, startVigil, subscribe, until } from './process-helpers.js';

let dir: string;
let cleanup: () => void;
let vigil: VigilProcess | undefined;
let stream: EventStream | undefined;
const children: ChildProcess[] = [];

beforeEach(() => {
  ({ dir, cleanup } = tempDir());
  writeFileSync(join(dir, 'vigil.yaml'), 'sweep:\n  interval: 1s\n');
});
afterEach(async () => {
  stream?.close();
  for (const child of children) child.kill('SIGKILL');
  children.length = 0;
  await vigil?.stop();
  vigil = undefined;
  cleanup();
});

const env = () => ({ VIGIL_DATABASE_URL: `sqlite:${join(dir, 'vigil.db')}` });

/** A runner in its own process: registers, prints its id, then beats every 100 ms until killed. */
function spawnRunner(url: string, id: string, limits: object): ChildProcess {
  const script = join(dir, `runner-${id}.mjs`);
  writeFileSync(
    script,
    `const url = ${JSON.stringify(url)};
     const post = (path, body) => fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
     const res = await post('/v1/executions', { id: ${JSON.stringify(id)}, kind: 'e2e', limits: ${JSON.stringify(limits)} });
     if (res.status !== 201) { console.error(await res.text()); process.exit(1); }
     console.log('registered');
     setInterval(() => post('/v1/executions/${id}/heartbeat', { attempt: 1 }).catch(() => {}), 100);`,
  );
  const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return child;
}

const remediated = (id: string) => () =>
  stream!.events.find((e) => e.type === 'execution:remediated' && e.data.executionId === id);

describe('vigil serve end to end (the real binary, a temporary SQLite file)', () => {
  it('ends a runner that stops heartbeating as heartbeat_lost, with its reason and an SSE event', async () => {
    vigil = await startVigil(dir, env());
    stream = await subscribe(vigil.url);
    const created = await api(vigil.url, 'POST', '/v1/executions', {
      id: 'quiet',
      kind: 'e2e',
      limits: { heartbeat: '500ms' },
    });
    expect(created.status).toBe(201);
    expect(
      (await api(vigil.url, 'POST', '/v1/executions/quiet/heartbeat', { attempt: 1 })).status,
    ).toBe(200);

    const event = await until(remediated('quiet'), { what: 'execution:remediated for quiet' });

    expect(event.data).toMatchObject({
      type: 'execution:remediated',
      verdict: 'heartbeat_lost',
      attempt: 1,
    });
    expect(stream.events.map((e) => e.type)).toContain('execution:stuck');
    const ended = (await api(vigil.url, 'GET', '/v1/executions/quiet')).json;
    expect(ended).toMatchObject({
      status: 'failed',
      verdict: 'heartbeat_lost',
      endedBy: 'watchdog',
    });
    expect(ended.reason).toMatch(/^no heartbeat for \S+, limit 500ms$/);

    // A late complete: 409, and the result is kept.
    const late = await api(vigil.url, 'POST', '/v1/executions/quiet/complete', {
      attempt: 1,
      result: { ok: true },
    });
    expect(late.status).toBe(409);
    expect(late.json.execution.lateResult).toMatchObject({
      status: 'succeeded',
      result: { ok: true },
    });
    expect((await api(vigil.url, 'GET', '/v1/executions/quiet')).json.lateResult.result).toEqual({
      ok: true,
    });
    await until(() => stream!.events.find((e) => e.type === 'execution:late-result'), {
      what: 'execution:late-result',
    });

    // A heartbeat from the ended attempt is told to stop.
    const stale = await api(vigil.url, 'POST', '/v1/executions/quiet/heartbeat', { attempt: 1 });
    expect(stale.status).toBe(409);
    expect(stale.json).toMatchObject({ error: { code: 'lost_ownership' }, status: 'failed' });
  });

  it('ends a runner killed with SIGKILL mid-run', async () => {
    vigil = await startVigil(dir, env());
    stream = await subscribe(vigil.url);
    const runner = spawnRunner(vigil.url, 'doomed', { heartbeat: '1s' });
    let said = '';
    runner.stdout!.on('data', (chunk: Buffer) => (said += chunk.toString()));
    await until(() => said.includes('registered'), { what: 'the runner to register' });
    await until(
      async () => (await api(vigil!.url, 'GET', '/v1/executions/doomed')).json.heartbeatAt,
      {
        what: 'a first heartbeat',
      },
    );

    runner.kill('SIGKILL');
    const event = await until(remediated('doomed'), { what: 'execution:remediated for doomed' });

    expect(event.data.verdict).toBe('heartbeat_lost');
    const ended = (await api(vigil.url, 'GET', '/v1/executions/doomed')).json;
    expect(ended).toMatchObject({ status: 'failed', verdict: 'heartbeat_lost' });
    expect(Date.parse(ended.endedAt) - Date.parse(ended.heartbeatAt)).toBeGreaterThan(1000);
  });

  it('restarting vigil serve while 100 healthy runners keep heartbeating ends none of them', async () => {
    vigil = await startVigil(dir, env());
    const port = new URL(vigil.url).port;
    const ids = Array.from({ length: 100 }, (_, i) => `healthy-${i}`);
    for (const id of ids) {
      expect(
        (
          await api(vigil.url, 'POST', '/v1/executions', {
            id,
            kind: 'e2e',
            limits: { heartbeat: '2s' },
          })
        ).status,
      ).toBe(201);
    }
    // The runners: one process beating all 100 every 250 ms, as runners do, through the outage.
    const beater = join(dir, 'beater.mjs');
    writeFileSync(
      beater,
      `const beats = ${JSON.stringify(ids)}.map((id) => ({ id, attempt: 1 }));
       let down = null;
       setInterval(async () => {
         try {
           const res = await fetch(${JSON.stringify(vigil.url)} + '/v1/heartbeats', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ beats }) });
           const body = await res.json();
           if (down !== null) { console.log('back after ' + (Date.now() - down)); down = null; }
           if (body.lost && body.lost.length) console.log('LOST ' + JSON.stringify(body.lost));
         } catch { if (down === null) down = Date.now(); console.log('down for ' + (Date.now() - down)); }
       }, 250);`,
    );
    const runner = spawn(process.execPath, [beater], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(runner);
    let said = '';
    runner.stdout.on('data', (chunk: Buffer) => (said += chunk.toString()));

    await vigil.stop('SIGTERM');
    // Down for longer than the heartbeat limit: every deadline falls in the gap.
    await until(
      () =>
        /down for (\d+)/g.exec(said) &&
        [...said.matchAll(/down for (\d+)/g)].some((m) => Number(m[1]) > 3_000),
      {
        what: 'the runners to have been cut off for 3 s',
      },
    );
    const restartedAt = Date.now();
    vigil = await startVigil(dir, { ...env(), VIGIL_PORT: port });
    await until(() => said.includes('back after'), {
      what: 'the runners to reach the restarted service',
    });
    // Wait for sweeps well past one full heartbeat limit after the restart.
    await until(
      async () => {
        const latest = await api(vigil!.url, 'GET', '/v1/sweeps/latest');
        return latest.status === 200 && Date.parse(latest.json.startedAt) > restartedAt + 3_000;
      },
      { what: 'a sweep 3 s after the restart' },
    );

    const running = (await api(vigil.url, 'GET', '/v1/executions?status=running&limit=1000')).json
      .items;
    expect(running).toHaveLength(100);
    expect((await api(vigil.url, 'GET', '/v1/remediations')).json.items).toEqual([]);
    expect(said).not.toContain('LOST');
  });
});
