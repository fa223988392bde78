import { createHmac } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config.js';
import { Dispatches } from '../src/notify/dispatch.js';
import type { ExecutionStore } from '../src/ports/execution-store.js';
import type { Harness } from './helpers.js';
import { S, describeEach, harness, storeKinds } from './helpers.js';
import type { LoopbackServer } from './loopback-server.js';
import { loopbackServer } from './loopback-server.js';

const SECRET = 'dispatch-secret-0123456789';

await describeEach(storeKinds(), 'dispatch webhooks (%s)', (kind) => {
  let h: Harness;
  let receiver: LoopbackServer;
  let dispatches: Dispatches;
  const errors: unknown[] = [];
  const raw = (url: string) => ({
    kinds: {
      job: {
        limits: { heartbeat: '30s' },
        retry: { maxAttempts: 3, backoff: '10s' },
        dispatch: { webhook: `${url}/start`, secret: SECRET },
      },
    },
  });
  const dispatcherOn = (store: ExecutionStore) =>
    new Dispatches({
      outbox: store.outbox(),
      targets: parseConfig(raw(receiver.url)).dispatch,
      current: (id) => store.get(id),
      clock: h.clock,
      onError: (error) => errors.push(error),
    });

  beforeEach(async () => {
    receiver = await loopbackServer(() => ({ status: 202 }));
    h = await harness(kind, raw(receiver.url));
    dispatches = dispatcherOn(h.store);
    errors.length = 0;
  });
  afterEach(async () => {
    await dispatches.stop();
    await h.close();
    await receiver.close();
  });

  it('sends a queued registration once, signed, naming the execution, attempt and metadata', async () => {
    await h.ledger.register({ id: 'j1', kind: 'job', status: 'queued', metadata: { doc: 7 } });
    await h.ledger.register({ id: 'other', kind: 'embed', status: 'queued' });
    expect(await dispatches.scan()).toBe(1);
    expect(await dispatches.worker.runOnce()).toEqual({ delivered: 1, retrying: 0, failed: 0 });

    expect(receiver.requests).toHaveLength(1);
    const [request] = receiver.requests;
    expect(request?.path).toBe('/start');
    const timestamp = String(request?.headers['x-vigil-timestamp']);
    const expected = createHmac('sha256', SECRET)
      .update(`${timestamp}.${request?.raw}`)
      .digest('hex');
    expect(request?.headers['x-vigil-signature']).toBe(`sha256=${expected}`);
    expect(request?.headers['x-vigil-delivery']).toBe('dispatch:j1:1');
    expect(request?.json).toMatchObject({
      type: 'execution:dispatch',
      dispatchId: 'dispatch:j1:1',
      execution: { id: 'j1', kind: 'job', attempt: 1, metadata: { doc: 7 } },
    });

    // Once per attempt: scanning again writes nothing, delivering again sends nothing.
    expect(await dispatches.scan()).toBe(0);
    expect(await dispatches.worker.runOnce()).toEqual({ delivered: 0, retrying: 0, failed: 0 });
    expect(receiver.requests).toHaveLength(1);
  });

  it('sends a retry when its backoff has ended, as its new attempt', async () => {
    await h.ledger.register({ id: 'j2', kind: 'job' });
    h.clock.advance(31 * S);
    await h.sweeper.sweep();
    const queued = await h.ledger.get('j2');
    expect(queued).toMatchObject({ status: 'queued', attempt: 2 });

    expect(await dispatches.scan()).toBe(1);
    await dispatches.worker.runOnce();
    expect(receiver.requests).toHaveLength(0);
    h.clock.set(queued.queuedAt!);
    await dispatches.worker.runOnce();
    expect(receiver.requests.map((r) => r.json.execution.attempt)).toEqual([2]);
    // The receiver starts it with the attempt it was sent.
    expect(await h.ledger.start('j2', 2)).toMatchObject({ status: 'running', attempt: 2 });
  });

  it('retries a receiver that fails, then delivers that attempt once', async () => {
    receiver.respond(() => ({ status: 503, body: { error: 'busy' } }));
    await h.ledger.register({ id: 'j3', kind: 'job', status: 'queued' });
    await dispatches.scan();
    expect(await dispatches.worker.runOnce()).toMatchObject({ retrying: 1 });
    expect(errors).toHaveLength(1);
    receiver.respond(() => ({ status: 200 }));
    h.clock.advance(5 * 60 * S);
    expect(await dispatches.worker.runOnce()).toMatchObject({ delivered: 1 });
    h.clock.advance(5 * 60 * S);
    expect(await dispatches.worker.runOnce()).toMatchObject({ delivered: 0 });
    expect(receiver.accepted().map((r) => r.json.dispatchId)).toEqual(['dispatch:j3:1']);
    expect(receiver.requests).toHaveLength(2);
  });

  it('does not send an attempt a runner claimed first, and notifications never take dispatches', async () => {
    await h.ledger.register({ id: 'j4', kind: 'job', status: 'queued' });
    await dispatches.scan();
    const outbox = h.store.outbox();
    expect(await outbox.claimDue('notifier', h.clock.now(), 60_000, 10)).toEqual([]);
    expect(await outbox.nextDue()).toBeNull();
    await h.ledger.claim({ kind: 'job' });
    await dispatches.worker.runOnce();
    expect(receiver.requests).toHaveLength(0);
  });

  it('two replicas scanning at once write one dispatch per attempt', async () => {
    const other = kind === 'postgres' ? h.openAnother() : h.store;
    const second = dispatcherOn(other);
    try {
      for (let i = 0; i < 20; i++) {
        await h.ledger.register({ id: `r${i}`, kind: 'job', status: 'queued' });
      }
      const written = await Promise.all([dispatches.scan(), second.scan(), dispatches.scan()]);
      expect(written.reduce((a, b) => a + b, 0)).toBe(20);
      await Promise.all([dispatches.worker.runOnce(), second.worker.runOnce()]);
      const ids = receiver.requests.map((r) => r.json.dispatchId as string);
      expect(ids.sort()).toEqual(Array.from({ length: 20 }, (_, i) => `dispatch:r${i}:1`).sort());
    } finally {
      await second.stop();
      if (other !== h.store) await other.close();
    }
  });
});

describe('kinds.<kind>.dispatch in the configuration', () => {
  const problems = (dispatch: unknown, env: Record<string, string> = {}) => {
    try {
      parseConfig({ kinds: { job: { dispatch } } }, env);
      return '';
    } catch (error) {
      return (error as Error).message;
    }
  };

  it('reads the secret from the environment and refuses what it cannot use, naming the key', () => {
    const targets = parseConfig(
      { kinds: { job: { dispatch: { webhook: 'http://127.0.0.1:9/x', secretEnv: 'S' } } } },
      { S: SECRET },
    ).dispatch;
    expect(targets.job?.secret.reveal()).toBe(SECRET);
    expect(String(targets.job?.secret)).toBe('***');
    expect(problems({ webhook: 'http://x.test/', secretEnv: 'S' })).toContain(
      'kinds.job.dispatch.secretEnv: environment variable S is not set',
    );
    expect(problems({ webhook: 'http://x.test/' })).toContain(
      'expected exactly one of "secret" or "secretEnv"',
    );
    expect(problems({ webhook: 'ftp://x', secret: 's' })).toContain(
      'expected an http(s) URL, got "ftp://x"',
    );
    expect(problems({ webhook: 'http://x.test/', secret: 's', timeout: '5' })).toContain(
      'kinds.job.dispatch.timeout',
    );
  });
});
