import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Execution, RunContext } from '../src/sdk/index.js';
import {
  LostOwnershipError,
  VigilApiError,
  VigilClient,
  VigilConnectionError,
  installShutdownHandler,
  livenessIntervalMs,
} from '../src/sdk/index.js';
import { freePort } from './process-helpers.js';
import type { Vigil } from './runner-helpers.js';
import { ROOT, ensureBuilt, spawnNode, serveForRunners, until } from './runner-helpers.js';

let vigil: Vigil;
let client: VigilClient;
let warnings: Error[];

beforeAll(async () => {
  vigil = await serveForRunners();
  warnings = [];
  client = new VigilClient({ url: vigil.url, onError: (error) => warnings.push(error) });
});
afterAll(async () => {
  await vigil.close();
});

/** Resolves once the abort signal fires. */
const aborted = (signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });

describe('client.run()', () => {
  it('completes the execution with the value of the work, progress reported by ctx.beat', async () => {
    const value = await client.run(
      { kind: 'embed', id: 'sdk-complete', limits: { heartbeat: '1s' }, metadata: { n: 1 } },
      async (ctx) => {
        expect(ctx.id).toBe('sdk-complete');
        expect(ctx.attempt).toBe(1);
        expect(ctx.execution.status).toBe('running');
        await ctx.beat('1/2');
        await ctx.beat();
        return { embedded: 2 };
      },
    );
    expect(value).toEqual({ embedded: 2 });
    const execution = await vigil.get('sdk-complete');
    expect(execution).toMatchObject({
      status: 'succeeded',
      endedBy: 'runner',
      result: { embedded: 2 },
      progress: 1, // the counter, sent when ctx.beat() is given no marker
      metadata: { n: 1 },
    });
    expect(execution.progressAt).not.toBeNull();
    expect(client.running).toEqual([]);
  });

  it('fails the execution with the message of the error the work threw, and rethrows it', async () => {
    const boom = new Error('disk full');
    await expect(
      client.run({ kind: 'embed', id: 'sdk-throw' }, () => {
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(await vigil.get('sdk-throw')).toMatchObject({
      status: 'failed',
      endedBy: 'runner',
      error: 'disk full',
      reason: 'disk full',
    });
  });

  it('ends work that stops reporting progress (no_progress) and aborts its signal', async () => {
    const late: Execution[] = [];
    let reason: unknown;
    await client.run(
      {
        kind: 'embed',
        id: 'sdk-hung',
        limits: { progress: '1s', heartbeat: '5s' },
        onLateResult: (execution) => late.push(execution),
      },
      async (ctx) => {
        await ctx.beat(1);
        // Hung but alive: the liveness thread keeps beating, progress stops.
        await aborted(ctx.signal);
        reason = ctx.signal.reason;
        await expect(ctx.beat(2)).rejects.toBe(reason);
        return 'finished anyway';
      },
    );
    expect(reason).toBeInstanceOf(LostOwnershipError);
    expect((reason as LostOwnershipError).reason).toMatch(/^no progress for /);
    const execution = await vigil.get('sdk-hung');
    expect(execution).toMatchObject({
      status: 'failed',
      verdict: 'no_progress',
      endedBy: 'watchdog',
      lateResult: { status: 'succeeded', result: 'finished anyway' },
    });
    expect(late).toHaveLength(1);
    expect(late[0]?.lateResult?.result).toBe('finished anyway');
  });

  it('aborts ctx.signal when an operator cancels the execution', async () => {
    let context: RunContext | undefined;
    const run = client.run(
      { kind: 'embed', id: 'sdk-cancel', limits: { heartbeat: '600ms' }, onLateResult: () => {} },
      async (ctx) => {
        context = ctx;
        await aborted(ctx.signal);
        throw ctx.signal.reason;
      },
    );
    await until(() => context !== undefined, { what: 'the work to start' });
    const response = await fetch(`${vigil.url}/v1/executions/sdk-cancel/cancel`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'not needed any more' }),
    });
    expect(response.status).toBe(200);
    const error = await run.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LostOwnershipError);
    expect(error).toMatchObject({ status: 'cancelled', reason: 'not needed any more' });
    expect(await vigil.get('sdk-cancel')).toMatchObject({
      status: 'cancelled',
      endedBy: 'operator',
    });
  });
});

describe('client.registerMany()', () => {
  it('registers through the batch route, 1,000 per request, one result per input in order', async () => {
    const owned = new VigilClient({ url: vigil.url, owner: 'team-a' });
    const inputs = Array.from({ length: 1_203 }, (_, i) => ({
      id: `sdk-many-${i}`,
      kind: 'many',
      status: 'queued' as const,
      metadata: { i },
    }));
    // A repeated id and a bad one fail alone, wherever they fall.
    inputs.push({ id: 'sdk-many-0', kind: 'many', status: 'queued', metadata: { i: -1 } });
    inputs.push({ id: 'bad id!', kind: 'many', status: 'queued', metadata: { i: -2 } });
    const results = await owned.registerMany(inputs);
    expect(results).toHaveLength(1_205);
    expect(results.slice(0, 1_203).every((r, i) => r.execution?.id === `sdk-many-${i}`)).toBe(true);
    expect(results[1_202]!.execution).toMatchObject({ owner: 'team-a', status: 'queued' });
    expect(results[1_203]).toEqual({
      error: { code: 'already_exists', message: 'execution sdk-many-0 already exists' },
    });
    expect(results[1_204]!.error).toMatchObject({ code: 'bad_input' });
    expect(await vigil.get('sdk-many-1202')).toMatchObject({
      owner: 'team-a',
      metadata: { i: 1202 },
    });
    expect(await client.registerMany([])).toEqual([]);
  });
});

describe('liveness from a worker thread', () => {
  /**
   * A runner process whose main thread spins for 6 s under a 2 s heartbeat limit (the worker beats
   * every 667 ms: on a busy machine a beat can wait a second for a core, so a 1 s limit ended
   * healthy runs there, a false positive of the load rather than of the SDK). With
   * `mainThreadBeats`, it beats from its main thread instead of using run(): the control that
   * shows the test would catch a runner whose heartbeats stop while the main thread is blocked.
   */
  const busyRunner = (sdk: string, mainThreadBeats: boolean) => `
import { VigilClient } from ${JSON.stringify(sdk)};
const client = new VigilClient({ url: process.env.VIGIL_URL });
const id = process.argv[2];
const spin = () => {
  const end = Date.now() + 6000;
  let spins = 0;
  while (Date.now() < end) spins++;
  return spins > 0;
};
if (${mainThreadBeats}) {
  const e = await client.register({ id, kind: 'busy', limits: { heartbeat: '2s' } });
  const beat = () => client.heartbeat(id, { attempt: e.attempt }).catch(() => undefined);
  await beat();
  const timer = setInterval(beat, 300);
  spin();
  await new Promise((resolve) => setTimeout(resolve, 100));
  clearInterval(timer);
} else {
  const value = await client.run({ id, kind: 'busy', limits: { heartbeat: '2s' } }, (ctx) => {
    process.stdout.write('started\\n');
    return { spun: spin(), aborted: ctx.signal.aborted };
  });
  process.stdout.write(JSON.stringify(value) + '\\n');
}
`;

  it.each([
    ['from the TypeScript sources', 'src'],
    ['from the build (dist/)', 'dist'],
  ])(
    'keeps a run whose main thread is blocked by CPU-bound work alive (%s)',
    async (_label, from) => {
      if (from === 'dist') await ensureBuilt();
      const sdk = pathToFileURL(
        join(ROOT, from === 'dist' ? 'dist/sdk/index.js' : 'src/sdk/index.ts'),
      ).href;
      const script = join(vigil.dir, `busy-${from}.${from === 'dist' ? 'mjs' : 'mts'}`);
      writeFileSync(script, busyRunner(sdk, false));
      const id = `busy-${from}`;
      const runner = spawnNode(from === 'dist' ? [script, id] : ['--import', 'tsx', script, id], {
        VIGIL_URL: vigil.url,
      });
      const { code } = await runner.exited;
      expect(runner.stderr()).toBe('');
      expect(code).toBe(0);
      expect(runner.stdout()).toContain('{"spun":true,"aborted":false}');
      expect(await vigil.get(id)).toMatchObject({
        status: 'succeeded',
        result: { spun: true, aborted: false },
      });
    },
    60_000,
  );

  it('control: the same blocked main thread, beating from that thread, is ended heartbeat_lost', async () => {
    const sdk = pathToFileURL(join(ROOT, 'src/sdk/index.ts')).href;
    const script = join(vigil.dir, 'busy-control.mts');
    writeFileSync(script, busyRunner(sdk, true));
    const runner = spawnNode(['--import', 'tsx', script, 'busy-control'], {
      VIGIL_URL: vigil.url,
    });
    expect((await runner.exited).code).toBe(0);
    expect(await vigil.ended('busy-control')).toMatchObject({
      status: 'failed',
      verdict: 'heartbeat_lost',
    });
  }, 60_000);

  it.each([
    [null, 10_000],
    [30, 100],
    [1_000, 333],
    [30_000, 10_000],
    [60_000, 10_000],
  ])('beats every third of a heartbeat limit of %s ms, within [100 ms, 10 s]: %s', (limit, ms) => {
    expect(livenessIntervalMs(limit)).toBe(ms);
  });
});

describe('installShutdownHandler', () => {
  it('fails the runs in flight on SIGTERM and exits 143', async () => {
    const sdk = pathToFileURL(join(ROOT, 'src/sdk/index.ts')).href;
    const script = join(vigil.dir, 'shutdown.mts');
    writeFileSync(
      script,
      `
import { VigilClient, installShutdownHandler } from ${JSON.stringify(sdk)};
const client = new VigilClient({ url: process.env.VIGIL_URL });
installShutdownHandler(client);
await client.run({ id: 'sdk-shutdown', kind: 'embed', limits: { heartbeat: '1s' } }, async () => {
  process.stdout.write('started\\n');
  await new Promise(() => {}); // works until stopped
});
`,
    );
    const runner = spawnNode(['--import', 'tsx', script], { VIGIL_URL: vigil.url });
    await until(() => runner.stdout().includes('started'), { what: 'the run to start' });
    runner.process.kill('SIGTERM');
    expect(await runner.exited).toEqual({ code: 143, signal: null });
    expect(await vigil.get('sdk-shutdown')).toMatchObject({
      status: 'failed',
      endedBy: 'runner',
      reason: 'runner shutdown (SIGTERM)',
      error: 'runner shutdown (SIGTERM)',
    });
  }, 60_000);

  it('removes its listeners when uninstalled', () => {
    const before = process.listenerCount('SIGTERM');
    const uninstall = installShutdownHandler(client, { exit: () => undefined });
    expect(process.listenerCount('SIGTERM')).toBe(before + 1);
    uninstall();
    expect(process.listenerCount('SIGTERM')).toBe(before);
  });
});

describe('VigilClient', () => {
  /** A fetch that answers from a list, recording every request. */
  const scripted = (...answers: (Response | Error)[]) => {
    const calls: { url: string; init: RequestInit | undefined }[] = [];
    const fake: typeof fetch = (input, init) => {
      calls.push({ url: input instanceof Request ? input.url : input.toString(), init });
      const next = answers.shift() ?? new Error('no more answers');
      return next instanceof Error ? Promise.reject(next) : Promise.resolve(next);
    };
    return { calls, fetch: fake };
  };
  const json = (status: number, body: unknown) =>
    new Response(JSON.stringify(body), {
      status,
      headers: { 'content-type': 'application/json' },
    });
  const refused = () =>
    Object.assign(new TypeError('fetch failed'), {
      cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }),
    });

  it('throws VigilApiError with the status, code and body of an error answer', async () => {
    const body = { error: { code: 'already_exists', message: 'execution x already exists' } };
    const { fetch } = scripted(json(409, body));
    const error = await new VigilClient({ url: 'http://vigil.test', fetch })
      .register({ kind: 'k', id: 'x' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VigilApiError);
    expect(error).toMatchObject({
      status: 409,
      code: 'already_exists',
      message: 'execution x already exists',
      body,
    });
  });

  it('sends the token from VIGIL_TOKEN and finds the service through VIGIL_URL', async () => {
    const { calls, fetch } = scripted(json(200, { deadlineAt: null }));
    const env = { VIGIL_URL: 'http://vigil.test:9/prefix', VIGIL_TOKEN: 'secret' };
    await new VigilClient({ env, fetch }).heartbeat('a/b', { attempt: 1, progress: 3 });
    expect(calls[0]?.url).toBe('http://vigil.test:9/prefix/v1/executions/a%2Fb/heartbeat');
    expect(calls[0]?.init?.headers).toMatchObject({ authorization: 'Bearer secret' });
    expect(JSON.parse(calls[0]?.init?.body as string)).toEqual({ attempt: 1, progress: 3 });
  });

  it('retries a heartbeat through transient failures (refused, 503)', async () => {
    const { calls, fetch } = scripted(
      refused(),
      json(503, { error: { code: 'store_unavailable', message: 'down' } }),
      json(200, { deadlineAt: null }),
    );
    const answer = await new VigilClient({ url: 'http://vigil.test', fetch }).heartbeat('x', {
      attempt: 1,
    });
    expect(answer).toEqual({ deadlineAt: null });
    expect(calls).toHaveLength(3);
  });

  it('never retries a 4xx, and gives up on transient failures after a few tries', async () => {
    const lost = {
      error: { code: 'lost_ownership', message: 'gone' },
      status: 'failed',
      reason: 'r',
    };
    const four = scripted(json(409, lost), json(200, {}));
    await expect(
      new VigilClient({ url: 'http://vigil.test', fetch: four.fetch }).heartbeat('x', {
        attempt: 1,
      }),
    ).rejects.toMatchObject({ code: 'lost_ownership', status: 409 });
    expect(four.calls).toHaveLength(1);

    const down = scripted(refused(), refused(), refused(), refused(), refused());
    await expect(
      new VigilClient({ url: 'http://vigil.test', fetch: down.fetch, retries: 3 }).heartbeat('x', {
        attempt: 1,
      }),
    ).rejects.toBeInstanceOf(VigilConnectionError);
    expect(down.calls).toHaveLength(4);
  });

  it('does not retry a registration', async () => {
    const { calls, fetch } = scripted(refused(), json(201, {}));
    await expect(
      new VigilClient({ url: 'http://vigil.test', fetch }).register({ kind: 'k' }),
    ).rejects.toBeInstanceOf(VigilConnectionError);
    expect(calls).toHaveLength(1);
  });

  it('says which URL it cannot reach when nothing listens there', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const error = await new VigilClient({ url }).register({ kind: 'k' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VigilConnectionError);
    expect((error as Error).message).toMatch(`cannot reach Vigil at ${url}: `);
    expect((error as Error).message).toMatch(/ECONNREFUSED/);
  });
});
