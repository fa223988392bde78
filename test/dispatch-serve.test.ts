import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from './helpers.js';
import type { LoopbackServer } from './loopback-server.js';
import { loopbackServer } from './loopback-server.js';
import { api, startVigil, until } from './process-helpers.js';
import { ensureBuilt } from './runner-helpers.js';

describe('dispatch webhooks and claims through the real vigil serve', () => {
  let receiver: LoopbackServer;
  let dir: string;
  let cleanup: () => void;

  beforeAll(async () => {
    await ensureBuilt();
    ({ dir, cleanup } = tempDir());
    receiver = await loopbackServer(() => ({ status: 503 }));
    writeFileSync(
      join(dir, 'vigil.yaml'),
      [
        'sweep:',
        '  interval: 200ms',
        'kinds:',
        '  job:',
        '    limits: { heartbeat: 1s }',
        '    retry: { maxAttempts: 2, backoff: 100ms }',
        '    dispatch:',
        `      webhook: ${receiver.url}/run`,
        '      secretEnv: JOB_DISPATCH_SECRET',
        '',
      ].join('\n'),
    );
  });
  afterAll(async () => {
    await receiver.close();
    cleanup();
  });

  it('a dispatch the receiver refused survives a restart and is delivered once; a retry is dispatched too', async () => {
    const env = { JOB_DISPATCH_SECRET: 'a-secret-of-some-length' };
    let vigil = await startVigil(dir, env);
    try {
      await api(vigil.url, 'POST', '/v1/executions', { id: 'e2e', kind: 'job', status: 'queued' });
      await until(() => receiver.requests.length >= 1, { what: 'the first dispatch' });
      expect(await vigil.stop()).toBe(0);

      receiver.respond(() => ({ status: 200 }));
      vigil = await startVigil(dir, env);
      // The backoff after the refusal (about a second) has to pass first.
      await until(() => receiver.accepted().length === 1, { what: 'the dispatch after restart' });
      expect(receiver.accepted()[0]?.json).toMatchObject({
        dispatchId: 'dispatch:e2e:1',
        execution: { id: 'e2e', attempt: 1 },
      });

      // The receiver's runner starts it, then goes quiet: the watchdog queues attempt 2, which is
      // dispatched as well.
      await api(vigil.url, 'POST', '/v1/executions/e2e/start', { attempt: 1 });
      await until(() => receiver.accepted().length === 2, { what: 'the retry dispatch' });
      expect(receiver.accepted()[1]?.json).toMatchObject({
        dispatchId: 'dispatch:e2e:2',
        execution: { id: 'e2e', attempt: 2 },
      });
      // A runner polling instead gets the same attempt; the two can never both start it.
      const claimed = await api(vigil.url, 'POST', '/v1/kinds/job/claim', { runner: 'poller' });
      expect(claimed.json).toMatchObject({ execution: { id: 'e2e', attempt: 2 } });
      const start = await api(vigil.url, 'POST', '/v1/executions/e2e/start', { attempt: 2 });
      expect(start.status).toBe(409);
      expect(receiver.accepted().map((r) => r.json.dispatchId)).toEqual([
        'dispatch:e2e:1',
        'dispatch:e2e:2',
      ]);
    } finally {
      await vigil.stop();
    }
  }, 90_000);
});
