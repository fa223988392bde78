import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config.js';
import { ConfigError } from '../src/errors.js';

/** The problems a configuration is refused with, one per line. */
function problems(raw: unknown): string[] {
  try {
    parseConfig(raw);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected the configuration to be refused');
}

describe('probes: in vigil.yaml', () => {
  it('resolves defaults: every 10s, 5s timeout, any 2xx, failing after 3, recovered after 1', () => {
    const config = parseConfig({ probes: { api: { url: 'http://127.0.0.1:8080/health' } } });
    expect(config.probes).toEqual({
      api: {
        name: 'api',
        url: 'http://127.0.0.1:8080/health',
        intervalMs: 10_000,
        timeoutMs: 5_000,
        expect: { status: { codes: [], classes: [2] }, body: null },
        failures: 3,
        successes: 1,
        process: null,
        headers: {},
      },
    });
    expect(parseConfig({}).probes).toEqual({});
  });

  it('reads every key', () => {
    const config = parseConfig({
      probes: {
        api: {
          url: 'https://api.example/health',
          interval: '30s',
          timeout: 2000,
          expect: { status: [200, '3xx'], body: '/"status":\\s*"ok"/i' },
          failures: 5,
          successes: 2,
          process: 'api-server',
          headers: { authorization: 'Bearer t' },
        },
      },
      processes: { 'api-server': { heartbeatFile: '/tmp/api-server.heartbeat.json' } },
    });
    expect(() =>
      parseConfig({ probes: { api: { url: 'http://x.example/', process: 'nope' } } }),
    ).toThrow(
      /probes\.api\.process: expected the name of a process under "processes:", got "nope"/,
    );
    expect(config.probes.api).toMatchObject({
      intervalMs: 30_000,
      timeoutMs: 2_000,
      expect: {
        status: { codes: [200], classes: [3] },
        body: { kind: 'regex', source: '"status":\\s*"ok"', flags: 'i' },
      },
      failures: 5,
      successes: 2,
      process: 'api-server',
      headers: { authorization: 'Bearer t' },
    });
    expect(
      parseConfig({ probes: { a: { url: 'http://x/', expect: { body: 'ok' } } } }).probes.a!.expect
        .body,
    ).toEqual({ kind: 'substring', text: 'ok' });
  });

  it('names the key of every problem, with what was expected and what was found', () => {
    expect(
      problems({
        probes: {
          api: {
            url: 'ftp://example',
            interval: '10ms',
            timeout: 'soon',
            expect: { status: [200, 'abc'], body: '/(/' },
            failures: 0,
            retries: 2,
          },
          web: { interval: '1m' },
        },
      }),
    ).toEqual([
      'probes.api.url: expected an http:// or https:// URL, got "ftp://example"',
      'probes.api.interval: expected a duration between 100ms and 24h, got "10ms"',
      'probes.api.timeout: expected a duration like "30s", "15m", "2h" or a number of milliseconds, got "soon"',
      'probes.api.expect.status: expected an HTTP status (200), a class ("2xx") or a list of them, got [200,"abc"]',
      'probes.api.expect.body: expected a valid regular expression, got "/(/" (Unterminated group)',
      'probes.api.failures: expected at least 1, got 0',
      'probes.api: unknown key "retries"',
      'probes.web.url: required: expected an http:// or https:// URL, got nothing',
    ]);
  });
});

describe('operations: in vigil.yaml', () => {
  it('resolves defaults and paths', () => {
    const config = parseConfig({
      operations: { jobs: { url: 'http://127.0.0.1:9000/ops', limit: '15m' } },
    });
    expect(config.operations.jobs).toEqual({
      name: 'jobs',
      url: 'http://127.0.0.1:9000/ops',
      isList: true,
      operationUrl: null,
      ids: null,
      item: { text: '$', segments: [] },
      intervalMs: 30_000,
      timeoutMs: 10_000,
      headers: {},
      items: { text: '$', segments: [] },
      fields: {
        id: { text: 'id', segments: ['id'] },
        status: { text: 'status', segments: ['status'] },
        lastUpdate: null,
      },
      running: ['running'],
      limitMs: 15 * 60_000,
      actions: { notify: true, cancel: null },
    });
  });

  it('reads one URL per operation when given operationUrl and ids', () => {
    const config = parseConfig({
      operations: {
        bot: {
          operationUrl: 'http://127.0.0.1:9000/operations/{id}',
          ids: ['op-1', 42],
          item: '$.operation',
          limit: '10m',
        },
      },
    });
    expect(config.operations.bot).toMatchObject({
      url: 'http://127.0.0.1:9000/operations/{id}',
      isList: false,
      operationUrl: 'http://127.0.0.1:9000/operations/{id}',
      ids: ['op-1', '42'],
      item: { text: '$.operation', segments: ['operation'] },
    });
    expect(
      problems({ operations: { bot: { operationUrl: 'http://h/ops/{id}', limit: '1m' } } }),
    ).toEqual([
      'operations.bot.url: required: expected the list\'s http(s) URL, or "operationUrl" (a URL template with {id}) and "ids"',
    ]);
    expect(
      problems({
        operations: {
          bot: { url: 'http://h/ops', operationUrl: 'http://h/ops/1', ids: [], limit: '1m' },
        },
      }),
    ).toEqual([
      'operations.bot.operationUrl: expected an http(s) URL template containing {id}, got "http://h/ops/1"',
      'operations.bot.ids: expected at least 1 item, got []',
    ]);
  });

  it('names the key of every problem', () => {
    expect(
      problems({
        operations: {
          jobs: {
            url: 'http://127.0.0.1/ops',
            items: 'data..operations',
            running: [],
            actions: { cancel: { url: 'http://127.0.0.1/cancel', method: 'GET' }, page: true },
          },
        },
      }),
    ).toEqual([
      'operations.jobs.items: expected a path like "$.data.operations" or "state.name", got "data..operations"',
      'operations.jobs.running: expected a status value or a list of them, got []',
      'operations.jobs.limit: required: expected a duration between 1ms and 100 years, got nothing',
      'operations.jobs.actions.cancel.url: expected an http(s) URL template containing {id}, got "http://127.0.0.1/cancel"',
      'operations.jobs.actions.cancel.method: expected one of "POST", "PUT", "PATCH", "DELETE", got "GET"',
      'operations.jobs.actions: unknown key "page"',
    ]);
  });
});
