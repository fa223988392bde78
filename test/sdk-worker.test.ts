import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Execution, Json } from '../src/sdk/index.js';
import { VigilApiError, VigilClient } from '../src/sdk/index.js';
import { tempDir } from './helpers.js';
import type { VigilProcess } from './process-helpers.js';
import { api, freePort, startVigil } from './process-helpers.js';
import { ROOT, ensureBuilt, spawnNode, until } from './runner-helpers.js';

let vigil: VigilProcess;
let dir: string;
let cleanup: () => void;
let client: VigilClient;

beforeAll(async () => {
  await ensureBuilt();
  ({ dir, cleanup } = tempDir());
  writeFileSync(
    join(dir, 'vigil.yaml'),
    [
      'sweep:',
      '  interval: 200ms',
      'kinds:',
      '  job:',
      '    limits: { heartbeat: 2s }',
      '    retry: { maxAttempts: 3, backoff: 200ms }',
      '',
    ].join('\n'),
  );
  vigil = await startVigil(dir);
  client = new VigilClient({ url: vigil.url });
});
afterAll(async () => {
  await vigil.stop();
  cleanup();
});

const get = async (id: string) =>
  (await api(vigil.url, 'GET', `/v1/executions/${id}`)).json as Execution;
const queue = (id: string, kind: string, metadata: Record<string, Json> = {}) =>
  client.register({ id, kind, status: 'queued', metadata });

describe('client.worker()', () => {
  it('claims queued executions, runs them concurrently inside run(), and reports each', async () => {
    let active = 0;
    let mostActive = 0;
    const worker = client.worker(
      'batch',
      async (ctx) => {
        active++;
        mostActive = Math.max(mostActive, active);
        // Hold each run until both loops have one, so concurrency is seen, not timed.
        await until(() => mostActive === 2 || ctx.execution.metadata.last === true);
        active--;
        if (ctx.execution.metadata.fail === true) throw new Error('bad input');
        return { doubled: Number(ctx.execution.metadata.n) * 2 };
      },
      { concurrency: 2, waitMs: 1_000, runner: 'test-worker' },
    );
    await queue('batch-1', 'batch', { n: 1 });
    await queue('batch-2', 'batch', { n: 2 });
    await queue('batch-3', 'batch', { n: 3, fail: true, last: true });
    const ended = (id: string) =>
      until(async () => {
        const e = await get(id);
        return e.status !== 'queued' && e.status !== 'running' ? e : undefined;
      });
    expect(await ended('batch-1')).toMatchObject({ status: 'succeeded', result: { doubled: 2 } });
    expect(await ended('batch-2')).toMatchObject({ status: 'succeeded', result: { doubled: 4 } });
    expect(await ended('batch-3')).toMatchObject({ status: 'failed', error: 'bad input' });
    expect(mostActive).toBe(2);
    await worker.stop();
    expect(worker.running).toBe(0);
    await worker.done;
  });

  it('stops at once while its claim is waiting for work, and with its signal', async () => {
    const worker = client.worker('idle', () => undefined, { waitMs: 30_000 });
    await worker.stop();
    await worker.done;
    const controller = new AbortController();
    const other = client.worker('idle', () => undefined, {
      waitMs: 30_000,
      signal: controller.signal,
    });
    controller.abort();
    await other.done;
  });

  it('rejects done when Vigil refuses the claims themselves', async () => {
    const worker = client.worker('idle', () => undefined, { waitMs: -5 });
    // A negative wait is clamped by nobody: the server names the field it refuses.
    await expect(worker.done).rejects.toBeInstanceOf(VigilApiError);
  });

  it('backs off, longer each time, while Vigil cannot be reached', async () => {
    const port = await freePort();
    const calls: number[] = [];
    const errors: Error[] = [];
    const unreachable = new VigilClient({
      url: `http://127.0.0.1:${port}`,
      retries: 0,
      onError: (error) => errors.push(error),
      fetch: (input, init) => {
        calls.push(performance.now());
        return fetch(input, init);
      },
    });
    const worker = unreachable.worker('job', () => undefined, { maxBackoffMs: 4_000 });
    await until(() => calls.length >= 4);
    await worker.stop();
    const gaps = calls.slice(1, 4).map((at, i) => at - calls[i]!);
    // Pause n lies in [base/2, base] and base doubles: each pause is at least the one before
    // (timers never fire early; a busy machine only makes pauses longer).
    expect(gaps[0]).toBeGreaterThanOrEqual(250 - 5);
    expect(gaps[1]).toBeGreaterThanOrEqual(500 - 5);
    expect(gaps[2]).toBeGreaterThanOrEqual(1_000 - 5);
    // One warning per outage, not one per try.
    expect(errors).toHaveLength(1);
    expect(errors[0]?.message).toMatch(/^claim failed: /);
  });

  it('a retry after kill -9 of a real runner process is claimed by another runner and completes', async () => {
    const sdk = pathToFileURL(join(ROOT, 'dist/sdk/index.js')).href;
    const script = join(dir, 'hanging-runner.mjs');
    writeFileSync(
      script,
      `import { VigilClient } from ${JSON.stringify(sdk)};
const client = new VigilClient();
client.worker('job', async (ctx) => {
  console.log('claimed ' + ctx.id + ' attempt ' + ctx.attempt);
  await new Promise(() => {}); // works forever
}, { runner: 'doomed' });
`,
    );
    const doomed = spawnNode([script], { VIGIL_URL: vigil.url });
    await queue('kill-9', 'job', { n: 7 });
    await until(() => doomed.stdout().includes('claimed kill-9 attempt 1'), {
      what: `the runner to claim (stderr: ${doomed.stderr()})`,
    });
    doomed.process.kill('SIGKILL');
    await doomed.exited;

    const seen: number[] = [];
    const survivor = client.worker(
      'job',
      (ctx) => {
        seen.push(ctx.attempt);
        return { by: 'survivor', attempt: ctx.attempt };
      },
      { runner: 'survivor', waitMs: 1_000 },
    );
    const done = await until(async () => {
      const e = await get('kill-9');
      return e.status === 'succeeded' ? e : undefined;
    });
    await survivor.stop();
    expect(done).toMatchObject({ attempt: 2, result: { by: 'survivor', attempt: 2 } });
    expect(seen).toEqual([2]);
  }, 90_000);
});
