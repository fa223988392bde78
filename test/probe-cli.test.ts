import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runMain } from '../src/cli/main.js';
import type { CliIo } from '../src/cli/context.js';
import { tempDir } from './helpers.js';
import type { LoopbackServer } from './loopback-server.js';
import { calls, loopbackServer } from './loopback-server.js';
import type { EventStream, VigilProcess } from './process-helpers.js';
import { VIGIL_BIN, api, startVigil, subscribe, until } from './process-helpers.js';

let dir: string;
let cleanup: () => void;
const servers: LoopbackServer[] = [];
const children: ChildProcess[] = [];
let vigil: VigilProcess | undefined;
let stream: EventStream | undefined;

beforeEach(() => {
  ({ dir, cleanup } = tempDir());
});
afterEach(async () => {
  stream?.close();
  stream = undefined;
  await vigil?.stop();
  vigil = undefined;
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  for (const server of servers.splice(0)) await server.close();
  cleanup();
});

async function server(...args: Parameters<typeof loopbackServer>) {
  const s = await loopbackServer(...args);
  servers.push(s);
  return s;
}

/** Runs the real `vigil probe` binary; resolves its exit code and output. */
function probe(...args: string[]) {
  return probeWith({}, ...args);
}

/** `vigil probe` with these environment variables added. */
function probeWith(env: Record<string, string>, ...args: string[]) {
  const child = spawn(process.execPath, [VIGIL_BIN, 'probe', ...args], {
    cwd: dir,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  return { child, exited, output: () => output };
}

/** An operations list with one operation whose state last changed at `since` (epoch ms). */
function operationsList(since: number) {
  return {
    data: {
      operations: [{ id: 'op-1', status: 'running', last_state_update_timestamp: since / 1000 }],
    },
  };
}

describe('vigil probe (the real binary)', () => {
  it('--exit-on-failure exits 1 once the endpoint has failed --failures checks in a row', async () => {
    let checks = 0;
    const endpoint = await server(() => ({ status: ++checks <= 2 ? 200 : 503 }));
    const run = probe(
      `${endpoint.url}/health`,
      '--interval',
      '100ms',
      '--failures',
      '3',
      '--exit-on-failure',
    );
    expect(await run.exited).toBe(1);
    // Two good answers, then three bad ones: failing at the third.
    expect(endpoint.requests).toHaveLength(5);
    const lines = run.output().trim().split('\n');
    expect(lines.filter((l) => l.startsWith('! probe:failing'))).toEqual([
      `! probe:failing: ${endpoint.url}/health: status 503, expected 2xx`,
    ]);
    expect(lines.at(-1)).toMatch(
      /failing {2}http:\/\/\S+: status 503, expected 2xx \(3 failed in a row/,
    );
  });

  it('--exit-on-failure exits 2 when a watched operation is stuck', async () => {
    const stuckSince = Date.now() - 60 * 60_000;
    const endpoint = await server((request) =>
      request.path === '/ops'
        ? { status: 200, body: operationsList(stuckSince) }
        : { status: 200, body: { status: 'ok' } },
    );
    const run = probe(
      `${endpoint.url}/health`,
      '--interval',
      '100ms',
      '--operations',
      `${endpoint.url}/ops`,
      '--items',
      '$.data.operations',
      '--last-update',
      'last_state_update_timestamp',
      '--limit',
      '10m',
      '--exit-on-failure',
      '--json',
    );
    expect(await run.exited).toBe(2);
    const records = run
      .output()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(records.find((r) => r.type === 'event')).toMatchObject({
      event: 'execution:stuck',
      source: 'operations',
      operationId: 'op-1',
      reason: expect.stringMatching(/^running with no state change for 1h, limit 10m$/),
    });
    expect(records.find((r) => r.type === 'operations')).toMatchObject({
      state: 'ok',
      items: [{ id: 'op-1', status: 'running', stuck: true }],
    });
  });

  it('keeps watching a healthy endpoint and moving operations until SIGTERM, then exits 0', async () => {
    let listFails = false;
    const endpoint = await server((request) => {
      if (request.path !== '/ops') return { status: 200, body: { status: 'ok' } };
      // The operation moves: a new last update at every answer.
      return listFails
        ? { status: 500, raw: 'down' }
        : { status: 200, body: operationsList(Date.now() - 1_000) };
    });
    const run = probe(
      `${endpoint.url}/health`,
      '--interval',
      '100ms',
      '--operations',
      `${endpoint.url}/ops`,
      '--items',
      'data.operations',
      '--last-update',
      'last_state_update_timestamp',
      '--limit',
      '10m',
      '--exit-on-failure',
    );
    await until(() => (run.output().match(/1 listed, 0 stuck/g) ?? []).length >= 3, {
      what: 'three checks of the operations',
    });
    // An unreadable list is reported, never acted on, and does not end the watch.
    listFails = true;
    await until(() => run.output().includes('unknown'), { what: 'the list to be unknown' });
    expect(run.output()).toMatch(
      /unknown {2}http:\/\/\S+\/ops: HTTP 500 from \S+ \(no action taken\)/,
    );
    expect(run.child.exitCode).toBeNull();
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
    expect(run.output()).not.toContain('stuck:');
  });

  it('bad usage exits 3 (the watchdog failed, not the service) naming each flag', async () => {
    const run = probe(
      'not-a-url',
      '--interval',
      'soon',
      '--failures',
      '0',
      '--operations',
      'http://127.0.0.1:1/ops',
    );
    expect(await run.exited).toBe(3);
    const output = run.output();
    expect(output).toContain('URL: expected an http:// or https:// URL, got "not-a-url"');
    expect(output).toContain('--interval: expected a duration like 30s, 15m or 2h');
    expect(output).toContain('--failures: expected at least 1, got 0');
    expect(output).toContain('--limit: required: expected a duration');
  });
});

/** A vigil.yaml in the style of a container's watchdog: every value from WATCHDOG_* variables. */
function writeWatchdogConfig(): void {
  writeFileSync(
    join(dir, 'vigil.yaml'),
    [
      'probes:',
      '  bot:',
      '    url: ${BOT_URL}/health',
      '    interval: ${WATCHDOG_CHECK_INTERVAL:-30s}',
      '    failures: ${WATCHDOG_MAX_FAILURES:-3}',
      'operations:',
      '  bot:',
      '    url: ${BOT_URL}/operations',
      '    operationUrl: ${BOT_URL}/operations/{id}',
      '    interval: ${WATCHDOG_CHECK_INTERVAL:-30s}',
      '    lastUpdate: last_state_update_timestamp',
      '    running: RUNNING',
      '    limit: ${WATCHDOG_STUCK_THRESHOLD:-10m}',
      '',
    ].join('\n'),
  );
}

describe('vigil probe from vigil.yaml: exit codes 0, 1, 2 and 3', () => {
  /** A bot whose op-stale has not moved for an hour while op-fresh moves at every answer. */
  async function bot(healthy: () => boolean) {
    const operation = (id: string) => ({
      id,
      status: 'RUNNING',
      last_state_update_timestamp: new Date(
        id === 'op-stale' ? Date.now() - 60 * 60_000 : Date.now() - 1_000,
      ).toISOString(),
    });
    return server((request) => {
      if (request.path === '/health') return { status: healthy() ? 200 : 503 };
      if (request.path === '/operations') {
        return { status: 200, body: [operation('op-stale'), operation('op-fresh')] };
      }
      const id = /^\/operations\/([^/]+)$/.exec(request.path)?.[1];
      if (id === 'op-stale' || id === 'op-fresh') return { status: 200, body: operation(id) };
      return { status: 404, body: { error: 'no such operation' } };
    });
  }

  it('--operation-id reads only the given operations, each from its own URL; a stuck one exits 2', async () => {
    const app = await bot(() => true);
    writeWatchdogConfig();
    const env = { BOT_URL: app.url, WATCHDOG_CHECK_INTERVAL: '100ms' };
    const fresh = probeWith(env, '--operation-id', 'op-fresh', '--exit-on-failure');
    await until(() => app.requests.filter((r) => r.path === '/operations/op-fresh').length >= 3, {
      what: 'three checks of op-fresh',
    });
    expect(fresh.child.exitCode).toBeNull();
    fresh.child.kill('SIGTERM');
    expect(await fresh.exited).toBe(0);
    expect(app.requests.map((r) => r.path)).not.toContain('/operations');
    expect(app.requests.map((r) => r.path)).not.toContain('/operations/op-stale');

    const stale = probeWith(
      env,
      '--operation-id',
      'op-fresh',
      '--operation-id',
      'op-stale',
      '--operation-id',
      'op-gone',
      '--exit-on-failure',
    );
    expect(await stale.exited).toBe(2);
    expect(stale.output()).toMatch(
      /! execution:stuck: bot:op-stale: RUNNING with no state change for (59m|1h)/,
    );
    expect(stale.output()).toContain(
      `skipped op-gone: HTTP 404 from ${app.url}/operations/op-gone`,
    );
    expect(stale.output()).not.toContain('bot:op-fresh');
    // The status line names where the operations were read: the per-operation URL, not the list.
    expect(stale.output()).toContain(`stuck  ${app.url}/operations/{id}: 2 listed, 1 stuck`);
  });

  it('without --operation-id watches the whole list (staleness judged as for a list)', async () => {
    const app = await bot(() => true);
    writeWatchdogConfig();
    const run = probeWith(
      { BOT_URL: app.url, WATCHDOG_CHECK_INTERVAL: '100ms' },
      '--exit-on-failure',
    );
    expect(await run.exited).toBe(2);
    expect(run.output()).toMatch(/2 listed, 1 stuck/);
  });

  it('exits 1 after WATCHDOG_MAX_FAILURES failed health checks in a row', async () => {
    let checks = 0;
    const app = await bot(() => ++checks <= 1);
    writeWatchdogConfig();
    const run = probeWith(
      {
        BOT_URL: app.url,
        WATCHDOG_CHECK_INTERVAL: '100ms',
        WATCHDOG_MAX_FAILURES: '4',
        WATCHDOG_STUCK_THRESHOLD: '1000h',
      },
      '--exit-on-failure',
    );
    expect(await run.exited).toBe(1);
    expect(app.requests.filter((r) => r.path === '/health')).toHaveLength(5);
  });

  it('--once checks once: 0 healthy, 1 a failed check, 2 a stuck operation', async () => {
    let healthy = true;
    const app = await bot(() => healthy);
    writeWatchdogConfig();
    const env = { BOT_URL: app.url, WATCHDOG_STUCK_THRESHOLD: '1000h' };
    expect(await probeWith(env, '--once').exited).toBe(0);
    expect(await probeWith({ ...env, WATCHDOG_STUCK_THRESHOLD: '10m' }, '--once').exited).toBe(2);
    healthy = false;
    expect(await probeWith(env, '--once').exited).toBe(1);
    expect(app.requests.filter((r) => r.path === '/health')).toHaveLength(3);
  });

  it('exits 3 when the watchdog itself cannot work: an unset variable, a bad value, a bad flag', async () => {
    writeWatchdogConfig();
    const unset = probeWith({}, '--exit-on-failure');
    expect(await unset.exited).toBe(3);
    expect(unset.output()).toContain(
      'probes.bot.url: environment variable BOT_URL is not set (referenced as ${BOT_URL}',
    );
    const bad = probeWith(
      { BOT_URL: 'http://127.0.0.1:1', WATCHDOG_MAX_FAILURES: 'three' },
      '--exit-on-failure',
    );
    expect(await bad.exited).toBe(3);
    expect(bad.output()).toContain('probes.bot.failures: expected a number, got "three"');
    const misplaced = probeWith({ BOT_URL: 'http://127.0.0.1:1' }, '--interval', '1s');
    expect(await misplaced.exited).toBe(3);
    expect(misplaced.output()).toContain('--interval: only with a URL argument');
    const unknownFlag = probeWith({}, '--no-such-flag');
    expect(await unknownFlag.exited).toBe(3);
    writeFileSync(join(dir, 'vigil.yaml'), 'port: 7070\n');
    const nothing = probeWith({}, '--once');
    expect(await nothing.exited).toBe(3);
    expect(nothing.output()).toContain('expected "probes:" or "operations:" to watch');
  });
});

describe('vigil serve runs configured probes and operation lists', () => {
  it('one probe:failing for many failed checks, then probe:recovered; a stuck operation cancelled once', async () => {
    let healthy = true;
    // The list stays empty until the test listens to the event stream, so the one
    // `execution:stuck` cannot fire before anyone hears it.
    let listening = false;
    const stuckSince = Date.now() - 60 * 60_000;
    const app = await server((request) => {
      if (request.path === '/health') return { status: healthy ? 200 : 500, body: {} };
      if (request.path === '/ops')
        return {
          status: 200,
          body: listening ? operationsList(stuckSince) : { data: { operations: [] } },
        };
      if (request.path === '/ops/op-1/cancel') return { status: 202, body: {} };
      return { status: 404 };
    });
    writeFileSync(
      join(dir, 'vigil.yaml'),
      [
        'probes:',
        '  api:',
        `    url: ${app.url}/health`,
        '    interval: 100ms',
        '    failures: 2',
        'operations:',
        '  jobs:',
        `    url: ${app.url}/ops`,
        '    interval: 100ms',
        '    items: $.data.operations',
        '    lastUpdate: last_state_update_timestamp',
        '    limit: 10m',
        '    actions:',
        '      cancel:',
        `        url: ${app.url}/ops/{id}/cancel`,
        '',
      ].join('\n'),
    );
    vigil = await startVigil(dir, { VIGIL_DATABASE_URL: `sqlite:${join(dir, 'vigil.db')}` });
    stream = await subscribe(vigil.url);
    const healthChecks = () => app.requests.filter((r) => r.path === '/health').length;
    const listChecks = () => app.requests.filter((r) => r.path === '/ops').length;
    listening = true;
    const listedFrom = listChecks();

    await until(
      async () => (await api(vigil!.url, 'GET', '/v1/probes')).json.items[0]?.state === 'passing',
      {
        what: 'the probe to pass',
      },
    );
    healthy = false;
    const failedFrom = healthChecks();
    await until(() => healthChecks() >= failedFrom + 8, { what: 'eight failed checks' });
    const probes = await api(vigil.url, 'GET', '/v1/probes');
    expect(probes.json.items).toEqual([
      expect.objectContaining({
        name: 'api',
        state: 'failing',
        lastError: 'status 500, expected 2xx',
      }),
    ]);
    healthy = true;
    await until(() => stream!.events.some((e) => e.type === 'probe:recovered'), {
      what: 'probe:recovered',
    });
    const probeEvents = stream.events.filter((e) => e.type.startsWith('probe:'));
    expect(probeEvents.map((e) => e.type)).toEqual(['probe:failing', 'probe:recovered']);
    const metrics = await (await fetch(`${vigil.url}/metrics`)).text();
    expect(metrics).toMatch(/^vigil_probe_up\{probe="api",replica="[^"]+"\} 1$/m);
    expect(metrics).toMatch(/^vigil_events_total\{type="probe:failing",replica="[^"]+"\} 1$/m);
    expect(probeEvents[0]!.data).toMatchObject({ probe: 'api', consecutiveFailures: 2 });

    await until(() => listChecks() >= listedFrom + 5, { what: 'five checks of the list' });
    const cancels = calls(app.requests.filter((r) => r.path.endsWith('/cancel')));
    expect(cancels).toEqual([{ method: 'POST', path: '/ops/op-1/cancel' }]);
    expect(stream.events.filter((e) => e.type === 'execution:stuck').map((e) => e.data)).toEqual([
      expect.objectContaining({ source: 'jobs', operationId: 'op-1' }),
    ]);
    const operations = await api(vigil.url, 'GET', '/v1/operations');
    expect(operations.json.items).toEqual([
      expect.objectContaining({ source: 'jobs', id: 'op-1', status: 'running', stuck: true }),
    ]);
    const audit = await api(vigil.url, 'GET', '/v1/remediations?executionId=jobs:op-1');
    expect(audit.json.items).toEqual([
      expect.objectContaining({ verdict: 'no_progress', action: 'cancel', outcome: 'remediated' }),
    ]);
  });
});

describe('vigil probe: an internal error of the watchdog', () => {
  it('exits 3, not 1 or 2: the watched service is not at fault', async () => {
    const endpoint = await server(() => ({ status: 200, body: { status: 'ok' } }));
    const lines: string[] = [];
    // A broken clock stands in for a bug of the watchdog: nothing outside it can cause one.
    const io: CliIo = {
      out: (text) => lines.push(text),
      err: (text) => lines.push(text),
      env: {},
      cwd: dir,
      clock: {
        now: () => {
          throw new Error('clock broken');
        },
        monotonic: () => performance.now(),
      },
    };
    const code = await runMain(
      ['probe', `${endpoint.url}/health`, '--interval', '100ms', '--exit-on-failure'],
      io,
    );
    expect(code).toBe(3);
    expect(lines.join('\n')).toContain('vigil: probe probe: internal error: clock broken');
  });
});
