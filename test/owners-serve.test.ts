import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tempDir } from './helpers.js';
import type { LoopbackServer, Reply } from './loopback-server.js';
import { loopbackServer } from './loopback-server.js';
import type { EventStream, VigilProcess } from './process-helpers.js';
import { api, startVigil, subscribe, until } from './process-helpers.js';

let dir: string;
let cleanup: () => void;
let vigil: VigilProcess | undefined;
let stream: EventStream | undefined;
let agent: LoopbackServer;
let registry: Reply;

beforeEach(async () => {
  ({ dir, cleanup } = tempDir());
  registry = { status: 200, body: { running: [] } };
  agent = await loopbackServer((request) =>
    request.path === '/agents/agent-a/running' ? registry : { status: 404, body: {} },
  );
  writeFileSync(
    join(dir, 'vigil.yaml'),
    `sweep:
  interval: 200ms
defaults:
  dispatchGrace: 300ms
owners:
  '*':
    registry:
      url: ${agent.url}/agents/{owner}/running
      ids: $.running[*].id
      timeout: 2s
`,
  );
});
afterEach(async () => {
  stream?.close();
  await vigil?.stop();
  vigil = undefined;
  await agent.close();
  cleanup();
});

const seen = (type: string) => () => stream!.events.find((e) => e.type === type);

describe('vigil serve reconciles against an owner registry (the real binary, SQLite)', () => {
  it('holds back while the registry answers empty, then ends the one orphan once it answers', async () => {
    vigil = await startVigil(dir, { VIGIL_DATABASE_URL: `sqlite:${join(dir, 'vigil.db')}` });
    stream = await subscribe(vigil.url);
    expect((await api(vigil.url, 'GET', '/v1/owners')).json).toEqual({
      items: [],
    });
    for (let i = 1; i <= 5; i++) {
      const created = await api(vigil.url, 'POST', '/v1/executions', {
        id: `steady-${i}`,
        kind: 'agent-run',
        owner: 'agent-a',
        limits: { heartbeat: null },
      });
      expect(created.status).toBe(201);
    }
    await api(vigil.url, 'POST', '/v1/executions', {
      id: 'lost',
      kind: 'agent-run',
      owner: 'agent-a',
      limits: { heartbeat: '500ms' },
    });

    // The agent answers an empty list while Vigil has 6 running on it: the breaker opens (on
    // the first sweep that asks it with at least 5 registered, perhaps before the 6th).
    const opened = await until(seen('breaker:opened'), { what: 'breaker:opened' });
    expect(opened.data).toMatchObject({ owner: 'agent-a', listed: 0 });
    expect(opened.data.running).toBeGreaterThanOrEqual(5);
    const owners = await until(
      async () => {
        const { json } = await api(vigil!.url, 'GET', '/v1/owners');
        return json.items[0]?.breaker === 'open' ? json.items : undefined;
      },
      { what: 'GET /v1/owners to show the open breaker' },
    );
    expect(owners).toEqual([
      expect.objectContaining({ name: 'agent-a', reachable: true, breaker: 'open', running: 6 }),
    ]);
    expect((await api(vigil.url, 'GET', '/v1/executions/lost')).json.status).toBe('running');
    expect(await (await fetch(`${vigil.url}/metrics`)).text()).toMatch(
      /^vigil_owner_breaker_open\{owner="agent-a",replica="[^"]+"\} 1$/m,
    );

    // The registry is back with the five that run: `lost` is the only orphan.
    registry = {
      status: 200,
      body: { running: [1, 2, 3, 4, 5].map((i) => ({ id: `steady-${i}` })) },
    };
    await until(seen('breaker:closed'), { what: 'breaker:closed' });
    await until(
      () =>
        stream!.events.find(
          (e) => e.type === 'execution:remediated' && e.data.executionId === 'lost',
        ),
      { what: 'lost to be remediated' },
    );
    const lost = (await api(vigil.url, 'GET', '/v1/executions/lost')).json;
    expect(lost).toMatchObject({ status: 'failed', verdict: 'orphaned', endedBy: 'watchdog' });
    const running = (await api(vigil.url, 'GET', '/v1/executions?status=running')).json;
    expect(running.items).toHaveLength(5);
    expect(stream.events.filter((e) => e.type === 'breaker:opened')).toHaveLength(1);
  });

  it('a stop endpoint answering 500: asked again after a growing backoff, escalated once', async () => {
    writeFileSync(
      join(dir, 'vigil.yaml'),
      `sweep:
  interval: 200ms
owners:
  '*':
    registry:
      url: ${agent.url}/agents/{owner}/running
      ids: $.running[*].id
    terminate:
      url: ${agent.url}/agents/{owner}/executions/{id}/stop
`,
    );
    agent.respond((request) =>
      request.path === '/agents/agent-a/running'
        ? { status: 200, body: { running: [{ id: 'stubborn' }] } }
        : request.path === '/agents/agent-a/executions/stubborn/stop'
          ? { status: 500, body: { error: 'cannot stop' } }
          : { status: 404, body: {} },
    );
    const stops = () => agent.requests.filter((r) => r.method === 'POST').length;
    vigil = await startVigil(dir, { VIGIL_DATABASE_URL: `sqlite:${join(dir, 'vigil.db')}` });
    stream = await subscribe(vigil.url);
    const created = await api(vigil.url, 'POST', '/v1/executions', {
      id: 'stubborn',
      kind: 'agent-run',
      owner: 'agent-a',
      limits: { run: '1s', heartbeat: null },
    });
    expect(created.status).toBe(201);

    // Escalated after the third failed stop (sweep.escalateAfter, default 3), not before.
    const escalated = await until(seen('execution:escalated'), {
      what: 'execution:escalated',
      timeoutMs: 30_000,
    });
    expect(escalated.data).toMatchObject({ executionId: 'stubborn', failures: 3 });
    expect(stops()).toBeLessThanOrEqual(4);

    // The fourth stop comes after the backoff; the escalation did not repeat meanwhile.
    await until(() => stops() >= 4, { what: 'a fourth stop request', timeoutMs: 30_000 });
    expect(stream.events.filter((e) => e.type === 'execution:escalated')).toHaveLength(1);
    expect(stream.events.filter((e) => e.type === 'execution:stuck')).toHaveLength(1);
    const sweeps = stream.events.filter((e) => e.type === 'sweep:completed').length;
    // A sweep every 200 ms (the interval) over ~8 s of backoff is ~40; a tight loop is thousands.
    expect(sweeps).toBeLessThan(200);
    const audit = (await api(vigil.url, 'GET', '/v1/remediations?executionId=stubborn')).json;
    expect(audit.items.map((a: { steps: { detail: string }[] }) => a.steps[0]!.detail)).toEqual([
      expect.stringMatching(/^termination failed \(3 in a row, next try in 4s\): .*HTTP 500/),
      expect.stringMatching(/^termination failed \(1 in a row, next try in 1s\): .*HTTP 500/),
    ]);
    expect((await api(vigil.url, 'GET', '/v1/executions/stubborn')).json.status).toBe('running');
  });
});
